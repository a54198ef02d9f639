"""The TLS + HTTP/1.1 transport: one threaded server, keep-alive, a request log.

TLS is negotiated in each connection's own thread (a stuck client cannot hold up
``accept``). Every request is logged with the id of the TCP connection it came
on, then handed to ``dispatch``, which returns a :class:`Response` or one of the
knob outcomes ``"silent"`` (hold the connection until stop) and ``"drop"``
(close it without answering).
"""

from __future__ import annotations

import functools
import itertools
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme

from .knobs import DROP, SILENT
from .messages import Request, Response
from .state import AUTHORITY_CLOUDS, GRAPH_CLOUDS

logger = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10
IDLE_TIMEOUT = 120
_CRM_LABELS = ["crm"] + [f"crm{n}" for n in range(2, 22)]
SERVER_NAMES = [
    *AUTHORITY_CLOUDS,
    *GRAPH_CLOUDS,
    *(f"*.{label}.dynamics.com" for label in _CRM_LABELS),
    *(f"*.api.{label}.dynamics.com" for label in _CRM_LABELS),
    "*.crm.microsoftdynamics.us",
    "*.api.crm.microsoftdynamics.us",
    "*.crm.appsplatform.us",
    "*.api.crm.appsplatform.us",
    "*.crm.dynamics.cn",
    "*.api.crm.dynamics.cn",
    "localhost",
    "127.0.0.1",
]


@functools.cache
def tls_material() -> tuple[trustme.CA, trustme.LeafCert]:
    """The CA and the server certificate for every name above; made once per process."""
    ca = trustme.CA(organization_name="Entra and Dataverse simulator")
    return ca, ca.issue_cert(*SERVER_NAMES)


@dataclass
class RequestRecord:
    """One request received; ``status`` stays None for dropped or silent ones."""

    host: str
    method: str
    path: str
    query: str
    time: float
    connection_id: int
    status: int | None = None


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(self, request: Request) -> RequestRecord:
        record = RequestRecord(
            request.host, request.method, request.path, request.query, time.time(), request.connection_id
        )
        with self._lock:
            self._records.append(record)
        return record

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle plus the client's delayed
    # ACK would add ~40 ms to every answer and distort the benchmarks.
    disable_nagle_algorithm = True
    server_version = "EntraDataverseSimulator/1.0"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    server: SimulatorServer

    def __init__(self, sock, client_address, server, connection_id: int) -> None:
        self.connection_id = connection_id
        super().__init__(sock, client_address, server)

    def serve(self) -> None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or (length is not None and not length.isdigit()):
            self.close_connection = True
            self.send(Response.empty(411))
            return
        body = self.rfile.read(int(length)) if length else b""
        path, _, query = self.path.partition("?")
        request = Request(
            self.command,
            _host_of(self.headers.get("Host")),
            path,
            query,
            self.headers,
            body,
            self.connection_id,
            client_ip=self.client_address[0],
        )
        record = self.server.log.add(request)
        result = self.server.dispatch(request)
        if result == SILENT:
            self.server.stopping.wait()
            self.close_connection = True
        elif result == DROP:
            self.close_connection = True
            abort(self.connection)
        else:
            record.status = result.status
            self.send(result)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = serve

    def send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s:%s %s", self.connection_id, self.address_string(), format % args)


def _host_of(host_header: str | None) -> str:
    host = (host_header or "").strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0]


def abort(sock: socket.socket) -> None:
    """Shut a (TLS) socket down under any thread blocked on it, without a TLS goodbye."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class SimulatorServer(ThreadingHTTPServer):
    """A threading HTTPS server whose requests go to ``dispatch``."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        ssl_context: ssl.SSLContext,
        dispatch: Callable[[Request], Response | str],
        log: RequestLog,
    ) -> None:
        self.ssl_context = ssl_context
        self.dispatch = dispatch
        self.log = log
        self.stopping = threading.Event()
        self._connection_ids = itertools.count(1)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: socket.socket, client_address) -> None:
        connection_id = next(self._connection_ids)
        self._track(request, True)
        try:
            request.settimeout(HANDSHAKE_TIMEOUT)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            logger.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        finally:
            self._track(request, False)
        self._track(tls, True)
        try:
            _Handler(tls, client_address, self, connection_id)
        finally:
            self._track(tls, False)
            tls.close()

    def handle_error(self, request, client_address) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)

    def abort_connections(self) -> None:
        """Wake and end every connection thread (idle keep-alive, silent, mid-handshake)."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            abort(sock)

    def _track(self, sock: socket.socket, is_open: bool) -> None:
        with self._open_lock:
            (self._open.add if is_open else self._open.discard)(sock)
