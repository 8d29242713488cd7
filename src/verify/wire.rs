//! The SSH wire encoding (RFC 4251 §5) as SSHSIG and public key blobs use it: big-endian
//! `uint32` and length-prefixed strings. Every read is bounds-checked against the bytes
//! actually present, so a hostile length field cannot cause an allocation or a panic.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated: {needed} bytes needed, {left} left")]
    Truncated { needed: u64, left: usize },
    #[error("{0} unexpected trailing bytes")]
    Trailing(usize),
}

/// A cursor over SSH wire-encoded bytes.
pub struct WireReader<'a> {
    rest: &'a [u8],
}

impl<'a> WireReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        WireReader { rest: bytes }
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.rest.len() {
            return Err(WireError::Truncated {
                needed: n as u64,
                left: self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8, WireError> {
        let b = self.bytes(1)?;
        Ok(b.first().copied().unwrap_or_default())
    }

    pub fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.bytes(4)?;
        let mut arr = [0u8; 4];
        arr.copy_from_slice(b);
        Ok(u32::from_be_bytes(arr))
    }

    /// A `string`: a `uint32` length, then that many bytes.
    pub fn string(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.u32()?;
        let len_usize = usize::try_from(len).map_err(|_| WireError::Truncated {
            needed: u64::from(len),
            left: self.rest.len(),
        })?;
        if len_usize > self.rest.len() {
            return Err(WireError::Truncated {
                needed: u64::from(len),
                left: self.rest.len(),
            });
        }
        self.bytes(len_usize)
    }

    /// Succeeds only if every byte was consumed.
    pub fn finish(self) -> Result<(), WireError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(WireError::Trailing(self.rest.len()))
        }
    }
}

/// Append `bytes` as an SSH `string`. Callers pass only bounded, already-parsed data.
pub fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_strings_and_integers() {
        let mut buf = Vec::new();
        put_string(&mut buf, b"abc");
        buf.push(7);
        let mut r = WireReader::new(&buf);
        assert_eq!(r.string().unwrap(), b"abc");
        assert_eq!(r.u8().unwrap(), 7);
        r.finish().unwrap();
    }

    #[test]
    fn length_field_larger_than_buffer_is_truncated_not_allocated() {
        let buf = [0xff, 0xff, 0xff, 0xff, b'x'];
        let mut r = WireReader::new(&buf);
        assert_eq!(
            r.string(),
            Err(WireError::Truncated {
                needed: u64::from(u32::MAX),
                left: 1
            })
        );
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let r = WireReader::new(b"zz");
        assert_eq!(r.finish(), Err(WireError::Trailing(2)));
    }

    #[test]
    fn short_integer_is_truncated() {
        let mut r = WireReader::new(&[0, 0, 1]);
        assert!(matches!(r.u32(), Err(WireError::Truncated { .. })));
    }
}
