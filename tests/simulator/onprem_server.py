"""The transport of the on-premises stand-ins: threaded HTTP/1.1 with keep-alive, plain or TLS.

Unlike the Microsoft simulator's server, each TCP connection carries state across its requests
(:class:`ConnectionState`): NTLM authenticates the connection, so the handshake's context and the
Windows account it proved live as long as the connection does. A header may have several values (IIS
sends ``WWW-Authenticate: Negotiate`` and ``WWW-Authenticate: NTLM`` as two headers).
"""

from __future__ import annotations

import itertools
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .messages import Request, Response
from .server import RequestLog, abort

logger = logging.getLogger(__name__)


@dataclass
class ConnectionState:
    """What one TCP connection remembers: the NTLM acceptor mid-handshake, then the account it proved."""

    ntlm: Any = None  # spnego's acceptor context between the negotiate and authenticate messages
    principal: str = ""  # DOMAIN\name or UPN, once the handshake succeeded


Dispatch = Callable[[Request, ConnectionState], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    timeout = 60
    server: OnPremServer

    def setup(self) -> None:
        super().setup()
        self.state = ConnectionState()
        self.connection_id = next(self.server.connection_ids)

    def serve(self) -> None:
        length = self.headers.get("Content-Length")
        body = self.rfile.read(int(length)) if length and length.isdigit() else b""
        path, _, query = self.path.partition("?")
        host = (self.headers.get("Host") or "").strip().lower().partition(":")[0]
        request = Request(self.command, host, path, query, self.headers, body, self.connection_id)
        record = self.server.log.add(request)
        try:
            response = self.server.dispatch(request, self.state)
        except Exception:
            logger.exception("on-premises simulator failed on %s %s%s", self.command, host, path)
            response = Response.json(500, {"error": "simulator_bug"})
        record.status = response.status
        self.send_response(response.status)
        for name, value in response.headers.items():
            for one in value if isinstance(value, list) else [value]:
                self.send_header(name, one)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = serve

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class OnPremServer(ThreadingHTTPServer):
    """A threading HTTP server (HTTPS with ``ssl_context``) whose requests go to ``dispatch``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, ssl_context: ssl.SSLContext | None, dispatch: Dispatch, log: RequestLog) -> None:
        self.ssl_context = ssl_context
        self.dispatch = dispatch
        self.log = log
        self.connection_ids = itertools.count(1)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)
        self.port = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish_request(self, request: socket.socket, client_address) -> None:
        sock = request
        if self.ssl_context is not None:
            try:
                request.settimeout(10)
                sock = self.ssl_context.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        with self._open_lock:
            self._open.add(sock)
        try:
            super().finish_request(sock, client_address)
        finally:
            with self._open_lock:
                self._open.discard(sock)
            sock.close()

    def handle_error(self, request, client_address) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        with self._open_lock:
            for sock in list(self._open):
                abort(sock)
