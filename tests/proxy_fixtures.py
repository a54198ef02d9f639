"""Outbound proxies on loopback for the tests: Debian's tinyproxy (a real one, with or without Basic authentication),
and a fake of our own for what tinyproxy will not do on demand (answer 403 or 502, or never answer at all)."""

import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from connections.dynamics import proxy
from tests.helpers import in_ci

TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
PROXY_USER, PROXY_PASSWORD = "gathr-proxy", "Pr0xy-pa55_word-7f3a"  # tinyproxy takes [A-Za-z0-9_-] only
_CONNECT_LINE = re.compile(r"Request \(file descriptor \d+\): CONNECT (\S+) HTTP")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Tinyproxy:
    """A tinyproxy process on 127.0.0.1; `connects()` lists the CONNECT targets it was asked for, from its log."""

    folder: Path
    basic_auth: tuple[str, str] | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self) -> "Tinyproxy":
        lines = [f"Port {self.port}", "Listen 127.0.0.1", "Timeout 30", "LogLevel Connect", "MaxClients 50"]
        lines += ["Allow 127.0.0.1", f'LogFile "{self.log_path}"']
        if self.basic_auth:
            lines.append("BasicAuth {} {}".format(*self.basic_auth))
        config = self.folder / f"tinyproxy-{self.port}.conf"
        config.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen(
            [TINYPROXY, "-d", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_listening(self.port)
        return self

    @property
    def log_path(self) -> Path:
        return self.folder / f"tinyproxy-{self.port}.log"

    def connects(self) -> list[str]:
        text = self.log_path.read_text() if self.log_path.exists() else ""
        return _CONNECT_LINE.findall(text)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)

    def proxies(self, credentials: tuple[str, str] | None = None, no_proxy: list[str] = ()) -> proxy.Proxies:
        user, password = credentials or ("", "")
        chosen = proxy.ProxyURL("http", "127.0.0.1", self.port, user, password)
        return proxy.Proxies(chosen, chosen, proxy.no_proxy_entries(list(no_proxy), "OUTBOUND_NO_PROXY"))


def _wait_listening(port: int, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"the proxy on port {port} did not start")


def _require_tinyproxy() -> None:
    if Path(TINYPROXY).exists():
        return
    missing = "tinyproxy is missing: apt-get install -y tinyproxy (.ci/run does)"
    if in_ci():
        pytest.fail(f"CI must run the outbound proxy tests: {missing}")
    pytest.skip(missing)


@pytest.fixture
def tinyproxy(tmp_path) -> Iterator[Tinyproxy]:
    """tinyproxy without authentication."""
    _require_tinyproxy()
    running = Tinyproxy(tmp_path).start()
    yield running
    running.stop()


@pytest.fixture
def tinyproxy_with_auth(tmp_path) -> Iterator[Tinyproxy]:
    """tinyproxy asking for Basic credentials: PROXY_USER and PROXY_PASSWORD."""
    _require_tinyproxy()
    running = Tinyproxy(tmp_path, basic_auth=(PROXY_USER, PROXY_PASSWORD)).start()
    yield running
    running.stop()


class FakeProxy:
    """A proxy that answers every CONNECT with `answer` (None: accepts the connection and never answers)."""

    def __init__(self, answer: bytes | None):
        self.answer = answer
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self._open.append(sock)
            head = b""
            sock.settimeout(5)
            try:
                while b"\r\n\r\n" not in head:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                self.requests.append(head)
                if self.answer is not None:
                    sock.sendall(self.answer)
                    sock.close()
            except OSError:
                sock.close()

    def close(self) -> None:
        self._listener.close()
        for sock in self._open:
            sock.close()


class TlsFront:
    """TLS in front of a plain proxy (tinyproxy speaks none): makes it an https:// proxy, its certificate issued by
    `ca` (a trustme CA) for 127.0.0.1."""

    def __init__(self, backend_port: int, ca):
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(self._context)
        self.backend_port = backend_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(sock,), daemon=True).start()

    def _relay(self, sock: socket.socket) -> None:
        try:
            front = self._context.wrap_socket(sock, server_side=True)
            back = socket.create_connection(("127.0.0.1", self.backend_port))
        except OSError:
            sock.close()
            return
        threading.Thread(target=_pump, args=(back, front), daemon=True).start()
        _pump(front, back)

    def close(self) -> None:
        self._listener.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for each in (source, sink):
            try:
                each.close()
            except OSError:
                pass


@pytest.fixture
def fake_proxy() -> Iterator:
    """make(answer) -> a FakeProxy on loopback; all closed at the end."""
    made: list[FakeProxy] = []

    def make(answer: bytes | None) -> FakeProxy:
        made.append(FakeProxy(answer))
        return made[-1]

    yield make
    for each in made:
        each.close()
