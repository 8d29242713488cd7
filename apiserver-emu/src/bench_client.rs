//! The cheapest client there is: one blocking keep-alive HTTP/1.1 connection that writes a
//! request and reads a `Content-Length` answer, nothing else (no TLS, no pooling, no
//! decoding). Benchmarks use it to measure the emulator alone: whatever a real client adds
//! on top of what this one costs is the client's own.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// The emulator never answers with more than this; a bigger length is a broken answer.
const MAX_BODY: usize = 256 << 20;

pub struct BenchConnection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
}

impl BenchConnection {
    /// Connects to a plain-HTTP emulator (`http://host:port`, as [`crate::Emulator::url`]).
    pub fn open(url: &str) -> io::Result<BenchConnection> {
        let host = url
            .strip_prefix("http://")
            .ok_or_else(|| invalid(format!("not a plain-HTTP URL: {url}")))?
            .trim_end_matches('/')
            .to_string();
        let stream = TcpStream::connect(&host)?;
        stream.set_nodelay(true)?;
        Ok(BenchConnection {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            host,
        })
    }

    /// Sends one request and waits for its answer: the status and the body.
    pub fn send(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<(u16, Vec<u8>)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        self.writer.write_all(head.as_bytes())?;
        self.writer.write_all(body)?;
        let status_line = self.line()?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("not a status line: {status_line:?}")))?;
        let mut length = 0usize;
        loop {
            let line = self.line()?;
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|n| *n <= MAX_BODY)
                        .ok_or_else(|| invalid(format!("bad Content-Length: {v:?}")))?;
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, body))
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line)
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EmuConfig, Emulator};

    #[test]
    fn creates_and_reads_back_over_one_connection() {
        let emu = Emulator::start(EmuConfig {
            namespaces: vec!["bench".into()],
            ..Default::default()
        })
        .unwrap();
        let mut conn = BenchConnection::open(&emu.url()).unwrap();
        let path = "/apis/networking.k8s.io/v1/namespaces/bench/networkpolicies";
        let body = br#"{"metadata":{"name":"a"},"spec":{"podSelector":{}}}"#;
        let (status, _) = conn
            .send("POST", &format!("{path}?dryRun=All"), body)
            .unwrap();
        assert_eq!(status, 201);
        assert!(emu
            .get_object("networkpolicies", Some("bench"), "a")
            .is_none());
        let (status, _) = conn.send("POST", path, body).unwrap();
        assert_eq!(status, 201);
        let (status, answer) = conn.send("GET", &format!("{path}/a"), b"").unwrap();
        assert_eq!(status, 200);
        let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["metadata"]["name"], "a");
        let (status, _) = conn.send("POST", path, body).unwrap();
        assert_eq!(status, 409, "the same name again is a conflict");
    }

    #[test]
    fn refuses_what_it_cannot_speak_to() {
        assert!(BenchConnection::open("https://127.0.0.1:1").is_err());
    }

    /// A server that reads one request head and answers `answer`, then hangs up.
    fn answering(answer: &'static [u8]) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                line.clear();
            }
            stream.write_all(answer).unwrap();
        });
        url
    }

    #[test]
    fn a_broken_answer_is_an_error_not_a_panic_or_a_huge_allocation() {
        for (answer, kind) in [
            (&b"garbage\r\n"[..], io::ErrorKind::InvalidData),
            (b"HTTP/1.1 2xx OK\r\n\r\n", io::ErrorKind::InvalidData),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
                io::ErrorKind::InvalidData,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                io::ErrorKind::InvalidData,
            ),
            (b"HTTP/1.1 200 OK\r\n", io::ErrorKind::UnexpectedEof),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
                io::ErrorKind::UnexpectedEof,
            ),
        ] {
            let mut conn = BenchConnection::open(&answering(answer)).unwrap();
            let err = conn.send("GET", "/", b"").unwrap_err();
            assert_eq!(
                err.kind(),
                kind,
                "{:?}: {err}",
                String::from_utf8_lossy(answer)
            );
        }
    }
}
