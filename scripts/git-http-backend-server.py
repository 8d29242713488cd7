#!/usr/bin/env python3
"""Serve git's smart HTTP protocol from `git http-backend` (CGI), optionally over TLS.

    git-http-backend-server.py ROOT PORT [CERT KEY]

Used by the HTTPS remote test and scripts/bench-daemon.sh. Responses carry a
Content-Length (libgit2 does not accept EOF-delimited bodies) and TLS connections end
with close_notify (OpenSSL 3 clients treat a bare TCP close as truncation).
"""
import http.server
import os
import socketserver
import ssl
import subprocess
import sys

ROOT, PORT = sys.argv[1], int(sys.argv[2])
BACKEND = os.path.join(subprocess.run(["git", "--exec-path"], capture_output=True, text=True).stdout.strip(), "git-http-backend")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_git(self):
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = dict(os.environ, GIT_PROJECT_ROOT=ROOT, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path,
                   QUERY_STRING=query, REQUEST_METHOD=self.command, REMOTE_ADDR="127.0.0.1",
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)),
                   HTTP_CONTENT_ENCODING=self.headers.get("Content-Encoding", ""),
                   GIT_PROTOCOL=self.headers.get("Git-Protocol", ""))
        out = subprocess.run([BACKEND], input=body, env=env, capture_output=True).stdout
        head, sep, payload = out.partition(b"\r\n\r\n")
        if not sep:
            head, _, payload = out.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = handle_git
    do_POST = handle_git


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def shutdown_request(self, request):
        if isinstance(request, ssl.SSLSocket):
            try:
                request.unwrap()
            except (OSError, ValueError):
                pass
        super().shutdown_request(request)


httpd = Server(("127.0.0.1", PORT), Handler)
if len(sys.argv) == 5:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
