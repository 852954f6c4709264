"""A fault-injecting HTTP reverse proxy on loopback, for testing the S3 store against a flaky endpoint.

Requests are forwarded to ``upstream`` as sent: the request line and headers unchanged
(``Host`` too, so signatures still match; only hop-by-hop headers are dropped, and
``Expect: 100-continue`` is answered here) and the body in its own framing, a
``Content-Length`` body or the raw ``Transfer-Encoding: chunked`` stream with its
trailers (``aws-chunked`` is a content encoding inside either). Each request body is
read whole before anything is decided, so a fault hits a completely sent request.
Responses stream back (re-chunked when upstream gives no length).

A seeded generator picks about ``rate`` of the requests to fail, in four equal shares:

* ``500``: HTTP 500 with an S3 ``InternalError`` body, never forwarded;
* ``503``: HTTP 503 with an S3 ``SlowDown`` body (throttling), never forwarded;
* ``reset``: the connection is reset (RST) once the request is read, never forwarded;
* ``lost``: forwarded and answered upstream, then the connection is reset: the write
  happened but the client never hears of it, and retries it.

``kinds`` narrows the mix and ``only`` (a predicate on method and path) which requests
may fail; ``injected`` counts failures by kind and ``log`` lists them. ``tamper`` may
rewrite the headers of relayed responses (to fake an endpoint that stored other bytes).
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

KINDS = ("500", "503", "reset", "lost")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"}
_BLOCK = 64 * 1024
_ERROR_BODIES = {
    500: b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>",
    503: b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
}


Headers = list[tuple[str, str]]
Tamper = Callable[[str, str, Headers], Headers]


class FaultProxy:
    """State shared by the handler threads: the upstream, the fault plan and the counters."""

    def __init__(
        self,
        upstream: str,
        *,
        rate: float,
        seed: int = 0,
        kinds: tuple[str, ...] = KINDS,
        only: Callable[[str, str], bool] | None = None,
        tamper: Tamper | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.rate = rate
        self.kinds = kinds
        self.only = only
        self.tamper = tamper
        self.requests = 0
        self.injected: Counter[str] = Counter()
        #: Each injected fault: (kind, method, path).
        self.log: list[tuple[str, str, str]] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def choose(self, method: str, path: str) -> str | None:
        """The fault for this request, or None to forward it."""
        with self._lock:
            self.requests += 1
            if self.only is not None and not self.only(method, path):
                return None
            if self._random.random() >= self.rate:
                return None
            kind = self._random.choice(self.kinds)
            self.injected[kind] += 1
            self.log.append((kind, method, path))
            return kind

    @property
    def total_injected(self) -> int:
        with self._lock:
            return sum(self.injected.values())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _handle(self) -> None:
        proxy = self.server.proxy
        body = self._read_body()
        fault = proxy.choose(self.command, self.path)
        if fault in ("500", "503"):
            self._send_error(int(fault))
            return
        if fault == "reset":
            self._reset()
            return
        upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.endheaders()
            for chunk in body:
                upstream.send(chunk)
            response = upstream.getresponse()
            if fault == "lost":
                response.read()  # upstream did the work; the client never hears of it
                self._reset()
                return
            self._relay(response)
        finally:
            upstream.close()

    def _read_body(self) -> list[bytes]:
        """The request body as raw framed bytes, exactly as they will be forwarded."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raw: list[bytes] = []
            while True:
                line = self.rfile.readline()
                raw.append(line)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers, up to the empty line
                        trailer = self.rfile.readline()
                        raw.append(trailer)
                        if trailer in (b"\r\n", b"\n", b""):
                            return raw
                raw.append(self.rfile.read(size + 2))  # data and its CRLF
        remaining = int(self.headers.get("Content-Length", "0") or 0)
        chunks = []
        while remaining > 0:
            chunk = self.rfile.read(min(_BLOCK, remaining))
            if not chunk:
                raise ConnectionError("client closed the connection mid-body")
            chunks.append(chunk)
            remaining -= len(chunk)
        return chunks

    def _relay(self, response: http.client.HTTPResponse) -> None:
        self.send_response_only(response.status, response.reason)
        chunked = response.getheader("Content-Length") is None and self.command != "HEAD" and response.status not in (204, 304)
        headers = response.getheaders()
        if self.server.proxy.tamper is not None:
            headers = self.server.proxy.tamper(self.command, self.path, headers)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() != "transfer-encoding":
                self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while block := response.read(_BLOCK):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_error(self, status: int) -> None:
        body = _ERROR_BODIES[status]
        self.send_response_only(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0): the client sees "connection reset", not a response."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the socket was reset on purpose
            super().finish()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle  # noqa: N815 (http.server's names)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # resets and clients hanging up are the point here


@contextmanager
def fault_proxy(
    upstream: str,
    *,
    rate: float,
    seed: int = 0,
    kinds: tuple[str, ...] = KINDS,
    only: Callable[[str, str], bool] | None = None,
    tamper: Tamper | None = None,
) -> Iterator[tuple[str, FaultProxy]]:
    """Run a :class:`FaultProxy` on 127.0.0.1 at a free port; yield its URL and its state."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.proxy = FaultProxy(upstream, rate=rate, seed=seed, kinds=kinds, only=only, tamper=tamper)
    thread = threading.Thread(target=server.serve_forever, name="fault-proxy", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
