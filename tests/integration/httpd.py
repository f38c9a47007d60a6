#!/usr/bin/env python3
"""A webhook endpoint for t_http.sh, on loopback.

    httpd.py DIR

Listens on 127.0.0.1 on a free port and writes the port to DIR/port.
Each request's header X-Workq-Answer says what to answer:

    200, 404, 500, ...   that status, with a short body
    429:N                429 with Retry-After: N (seconds)
    429:date:N           429 with Retry-After: an HTTP-date N seconds ahead
    sleep:MS:STATUS      wait MS milliseconds, then answer STATUS
    hang                 never answer; note when the client goes away
    slam                 hang up at once, the body unread (the client
                         writing it gets EPIPE, or SIGPIPE if it lets it)

Every request is appended to DIR/requests.jsonl as one JSON object (method,
path, headers, body) when it arrives; a hung request whose client closed
the connection adds {"closed": <X-Workq-Job-Id>}.

It also holds a listening socket that never accepts, its queue full, so a
connection to it hangs in SYN-SENT: its port goes to DIR/blackhole.
"""
import email.utils
import http.server
import json
import os
import select
import socket
import sys
import threading
import time

DIR = sys.argv[1]
LOCK = threading.Lock()


def record(obj):
    with LOCK, open(os.path.join(DIR, "requests.jsonl"), "a") as f:
        f.write(json.dumps(obj) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        if self.headers.get("X-Workq-Answer") == "slam":
            record({"slammed": self.headers.get("X-Workq-Job-Id")})
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       b"\1\0\0\0\0\0\0\0")
            self.connection.close()
            self.close_connection = True
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        record({"method": "POST", "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("latin-1")})
        answer = self.headers.get("X-Workq-Answer", "200")
        if answer == "hang":
            self.hang()
            return
        extra = []
        if answer.startswith("sleep:"):
            _, ms, answer = answer.split(":")
            time.sleep(int(ms) / 1000)
        if answer.startswith("429:date:"):
            at = time.time() + int(answer.split(":")[2])
            extra.append(("Retry-After", email.utils.formatdate(at, usegmt=True)))
            answer = "429"
        elif answer.startswith("429:"):
            extra.append(("Retry-After", answer.split(":")[1]))
            answer = "429"
        self.reply(int(answer), extra)

    def reply(self, status, extra):
        body = b"answered %d\n" % status
        try:
            self.send_response(status)
            for k, v in extra:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass
        self.close_connection = True

    def hang(self):
        # Wait for EOF from the client: it gave up on us.
        while True:
            r, _, _ = select.select([self.connection], [], [], 60)
            if r and self.connection.recv(1) == b"":
                record({"closed": self.headers.get("X-Workq-Job-Id")})
                self.close_connection = True
                return


def blackhole():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    port = s.getsockname()[1]
    fillers = []
    # Fill the accept queue: later SYNs are dropped, so connects hang.
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    time.sleep(0.2)
    return s, fillers, port


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    hole = blackhole()
    for name, port in (("blackhole", hole[2]), ("port", srv.server_address[1])):
        tmp = os.path.join(DIR, name + ".tmp")
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, os.path.join(DIR, name))
    srv.serve_forever()


main()
