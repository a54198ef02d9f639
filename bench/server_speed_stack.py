"""The servers of bench/server_speed.py: the app as `make run` serves it, silent servers, and what they weigh.

gunicorn runs with the Procfile's flags (gthread, 2 workers × 8 threads, WEB_TIMEOUT 60, an access log, a control
socket of its own); the TEST worker is bench/load.py's (`manage.py run_huey` through bench/load_worker.py).
"""

import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.load import BASE_DIR, environment, free_port, prepare, wait_until_serving, working
from bench.load_clients import Person
from tests.simulator import Simulator

WEB_TIMEOUT = 60
# make run's defaults, where bench/load.py's environment differs: the local-memory cache (no CACHE_URL), APP_ENV
# from .env.example; TEST may reach the whole loopback network, where the silent servers listen.
MAKE_RUN = {"APP_ENV": "development", "WEB_TIMEOUT": str(WEB_TIMEOUT), "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8"}


def bench_environment(folder: Path, simulator: Simulator) -> dict:
    """bench/load.py's settings (SQLite file, SQLite queue, raised TEST rate limits), set as `make run` sets them."""
    env = environment(
        folder, f"sqlite:///{folder / 'bench.sqlite3'}", f"sqlite:///{folder / 'tasks.sqlite3'}", simulator
    )
    env.pop("CACHE_URL")
    env.pop("TEST_WORKERS", None)  # its default, as `make run` has it
    return {**env, **MAKE_RUN}


def procfile_command(bind: str, control_socket: Path) -> list[str]:
    """The Procfile's `web:` line, on bench/load_wsgi.py (TEST's names resolve to the simulator)."""
    command = [sys.executable, "-m", "gunicorn", "bench.load_wsgi:application", "--bind", bind]
    command += ["--workers", "2", "--threads", "8", "--worker-class", "gthread", "--timeout", str(WEB_TIMEOUT)]
    command += ["--graceful-timeout", "30", "--access-logfile", "-", "--forwarded-allow-ips", "127.0.0.1"]
    return command + ["--control-socket", str(control_socket)]


@dataclass(frozen=True)
class MakeRun:
    root: str  # the web server's address
    server: subprocess.Popen  # gunicorn's master
    folder: Path  # the run's temporary folder: bench.sqlite3, tasks.sqlite3
    env: dict  # the servers' environment (for `manage.py` commands beside them)


@contextmanager
def make_run(label: str, simulator: Simulator, admin: Person, logs: Path):
    """`make run`'s web server and TEST worker on a fresh temporary SQLite database and queue, `admin` in it; their
    output in logs/<label>-web.log and -worker.log."""
    logs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"gathr-{label}-") as tmp:
        folder = Path(tmp)
        env = bench_environment(folder, simulator)
        prepare(env, [admin])
        with (
            working(env, logs / f"{label}-worker.log"),
            served(env, folder, logs / f"{label}-web.log") as (root, server),
        ):
            yield MakeRun(root, server, folder, env)


@contextmanager
def served(env: dict, folder: Path, log: Path):
    """gunicorn as the Procfile starts it: its root URL and its master's process."""
    bind = f"127.0.0.1:{free_port()}"
    command = procfile_command(bind, folder / f"gunicorn-{bind.split(':')[1]}.ctl")
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(f"http://{bind}", log)
        yield f"http://{bind}", server
    finally:
        server.terminate()
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class SilentServers:
    """Servers that accept connections and never send a byte, one per address 127.0.0.2, 127.0.0.3, ..."""

    def __init__(self, count: int):
        self.listeners = [self._listen(f"127.0.0.{2 + i}") for i in range(count)]
        self.accepted: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="silent-servers", daemon=True)

    @staticmethod
    def _listen(address: str) -> socket.socket:
        listener = socket.socket()
        listener.bind((address, 0))
        listener.listen(64)
        listener.setblocking(False)
        return listener

    @property
    def urls(self) -> list[str]:
        return [f"http://{host}:{port}/Contoso/" for host, port in (s.getsockname() for s in self.listeners)]

    def _accept(self) -> None:
        with selectors.DefaultSelector() as selector:
            for listener in self.listeners:
                selector.register(listener, selectors.EVENT_READ)
            while not self.stopping.is_set():
                for key, _ in selector.select(timeout=0.2):
                    connection, _ = key.fileobj.accept()
                    self.accepted.append(connection)  # held open, never read from or written to

    def __enter__(self) -> "SilentServers":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for sock in self.accepted + self.listeners:
            sock.close()


def resident_kib(pid: int) -> int:
    """VmRSS of a process, in KiB (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # the field after the state: the parent
                found.append(int(entry.name))
    return sorted(found)


def worker_pid() -> int:
    """The TEST worker that bench/load.py's `working` started: this process's child running bench.load_worker."""
    for pid in children(os.getpid()):
        if b"bench.load_worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise SystemExit("the TEST worker is not running")


def memory(master: int) -> dict:
    """Resident memory in MiB: gunicorn's master, each web worker, their total, and the TEST worker."""
    workers = [resident_kib(pid) / 1024 for pid in children(master)]
    master_mib = resident_kib(master) / 1024
    total = master_mib + sum(workers)
    return {
        "master": master_mib,
        "web_workers": workers,
        "web_total": total,
        "test_worker": resident_kib(worker_pid()) / 1024,
    }
