"""A minimal Redis client for the fault tests: RESP2 over a unix socket or
TCP, with pipelining.  The fault tests need to know exactly which pushes
Redis confirmed, under errors and dropped connections, which redis-cli
--pipe cannot tell; Debian's python3 has no Redis module by default."""

import socket


class Error(Exception):
    """An error reply (-ERR ..., -OOM ...)."""


class Conn:
    def __init__(self, address, timeout=10.0):
        if address.startswith("unix:"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target = address[5:]
        else:
            host, port = address.rsplit(":", 1)
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            target = (host, int(port))
        self.sock.settimeout(timeout)
        self.sock.connect(target)
        self.buf = b""
        self.pos = 0

    def close(self):
        self.sock.close()

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send(self, data):
        self.sock.sendall(data)

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = self.buf[self.pos:i]
                self.pos = i + 2
                return line
            self._more()

    def _more(self):
        if self.pos > 0:
            self.buf = self.buf[self.pos:]
            self.pos = 0
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("connection closed by Redis")
        self.buf += chunk

    def read(self):
        """One reply; an error reply is returned as an Error instance."""
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return Error(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self._more()
            s = self.buf[self.pos:self.pos + n]
            self.pos += n + 2
            return s.decode(errors="replace")
        if t == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self.read() for _ in range(n)]
        raise ConnectionError("bad reply from Redis: %r" % line)

    def command(self, *args):
        self.send(self.encode(*args))
        r = self.read()
        if isinstance(r, Error):
            raise r
        return r


def command(address, *args):
    """One command on a fresh connection."""
    c = Conn(address)
    try:
        return c.command(*args)
    finally:
        c.close()
