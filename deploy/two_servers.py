"""Several machines, on one: nginx in front of two app servers (gunicorn), two TEST workers, PostgreSQL and Redis.

    .venv/bin/python deploy/two_servers.py                     # http://127.0.0.1:8080 until Ctrl-C
    .venv/bin/python deploy/two_servers.py --port 9000 --start-services

Everything listens on 127.0.0.1. PostgreSQL (127.0.0.1:5432, user postgres, trust authentication) and Redis
(127.0.0.1:6379) are the machine's own services; with --start-services the script starts them when they do not
answer, and leaves them running (other programs may use them by then). It makes a fresh database and flushes two
Redis databases of its own (the cache and the queue), runs migrate and collectstatic once, creates an administrator
(its password printed once), then starts nginx (Debian's package, as a process of its own with its configuration,
pid and logs in a temporary folder, not the system service), the app servers and the workers. On exit (Ctrl-C,
SIGTERM, one of the processes stopping, an error) it stops every process it started and drops its database.
tests/test_two_servers.py drives the same class.
"""

import argparse
import fcntl
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import psycopg
import redis
import requests
from cryptography.fernet import Fernet
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
CREATE_ADMIN = "from django.contrib.auth.models import User; User.objects.create_superuser({name!r}, '', {password!r})"
SITE_TEMPLATE = BASE_DIR / "deploy" / "nginx.conf"
NGINX = "/usr/sbin/nginx"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379"
REDIS_DBS = (10, 12, 14)  # each with the next one: a cache and a queue
# A down or hung Redis fails a rate-limit count in seconds, never holds the request (the queue has the same).
REDIS_CACHE_TIMEOUTS = "socket_connect_timeout=1&socket_timeout=5"
CONSUMER_STARTED = "Huey consumer started"
# Each stops gracefully on its own signal: Huey lets running TESTs finish on SIGINT (SIGTERM abandons them), nginx
# closes idle connections on SIGQUIT, gunicorn finishes its requests on SIGTERM.
GRACEFUL = {"worker": signal.SIGINT, "nginx": signal.SIGQUIT, "app": signal.SIGTERM}
# gunicorn's access log with the client's address as nginx states it (a dash: the request did not come through nginx).
ACCESS_LOG = '%(h)s %({x-forwarded-for}i)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms'
APP_SERVERS = ("app-a", "app-b")
WORKERS = ("worker-1", "worker-2")
# nginx as a process of this setup: the site file is deploy/nginx.conf, everything else stays in the folder.
NGINX_MAIN = """daemon off;
worker_processes 2;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {folder}/nginx-access.log;
    client_body_temp_path {folder}/nginx-temp/body;
    proxy_temp_path {folder}/nginx-temp/proxy;
    fastcgi_temp_path {folder}/nginx-temp/fastcgi;
    uwsgi_temp_path {folder}/nginx-temp/uwsgi;
    scgi_temp_path {folder}/nginx-temp/scgi;
    include {folder}/site.conf;
}}
"""


class StartError(Exception):
    """A part of the setup did not start: the message says which, and where its log is."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def render(template: str, values: dict[str, str]) -> str:
    """What `envsubst '${NAME}...'` does: replace ${NAME} for the names given, leave nginx's own $variables."""
    return re.sub(r"\$\{(\w+)\}", lambda found: values.get(found.group(1), found.group(0)), template)


def answers(check) -> bool:
    try:
        check()
    except (psycopg.Error, redis.RedisError):
        return False
    return True


def _postgres_up() -> bool:
    return answers(lambda: psycopg.connect(f"{POSTGRES}/postgres", connect_timeout=2).close())


def _redis_up() -> bool:
    return answers(lambda: redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping())


def ensure_services(start: bool) -> None:
    """PostgreSQL and Redis on loopback: the machine's; started (and left running) only when `start`."""
    commands = {
        "PostgreSQL": (_postgres_up, f"pg_ctlcluster --skip-systemctl-redirect {_pg_version()} main start"),
        "Redis": (
            _redis_up,
            "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no",
        ),
    }
    for name, (up, command) in commands.items():
        if up():
            continue
        if not start:
            raise StartError(f"{name} does not answer on 127.0.0.1: start it with `{command}` or pass --start-services")
        subprocess.run(shlex.split(command), check=True)
        _wait(up, f"{name} did not start: `{command}`")


def _pg_version() -> str:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else ["<version>"]
    return versions[-1]


def _wait(ready, failure: str, timeout: float = 30, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.1)
    raise StartError(failure)


def _serving(url: str) -> bool:
    try:
        return requests.get(f"{url}/accounts/login/", timeout=2).status_code == 200
    except requests.RequestException:  # not listening yet, or still importing the app
        return False


def claim_redis_dbs() -> tuple[tuple[int, int], IO]:
    """Two Redis databases (the cache, the queue) that no other setup on this machine uses while we hold the lock:
    setups running side by side (two checkouts' test suites) must not flush each other's queue."""
    for cache in REDIS_DBS:
        lock = open(Path(tempfile.gettempdir()) / f"gathr-two-servers-redis-{cache}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        return (cache, cache + 1), lock
    raise StartError(f"Redis databases {REDIS_DBS} are all in use by other setups on this machine")


def _postgres(statement: sql.Composed) -> None:
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(statement)


class TwoServers:
    """The whole setup. `with TwoServers() as setup:` starts it; leaving the block stops all it started."""

    def __init__(self, *, port: int | None = None, settings: dict | None = None):
        self.folder = Path(tempfile.mkdtemp(prefix="gathr-two-servers-"))
        self.folder.chmod(0o755)  # nginx's workers (nobody, when started by root) write their temp files here
        self.database = f"gathr_two_servers_{secrets.token_hex(4)}"
        self.redis_dbs, self._redis_lock = claim_redis_dbs()  # the cache's and the queue's
        self.ports = {"nginx": port or free_port(), **{name: free_port() for name in APP_SERVERS}}
        self.settings = settings or {}
        self.admin = ("admin", secrets.token_urlsafe(15))
        self.keys = {"SECRET_KEY": secrets.token_urlsafe(50), "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode()}
        self.processes: dict[str, subprocess.Popen] = {}
        self.database_created = False

    def __enter__(self) -> "TwoServers":
        try:
            self.start()
        except BaseException:
            self.tear_down()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.tear_down()

    def url(self, name: str = "nginx") -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def environment(self, **overrides: str) -> dict[str, str]:
        """What every app server and worker gets: the same keys, database, cache and queue (deploy/README.md)."""
        kept = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TZ") if name in os.environ}
        return {
            **kept,
            "DJANGO_SETTINGS_MODULE": "gathr_connector.settings",
            "APP_ENV": "production",
            "DEBUG": "false",
            # Plain http on loopback: no secure-only cookies, HTTPS redirect or HSTS (a real site has TLS at nginx).
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_COOKIES": "false",
            "SECURE_HSTS_SECONDS": "0",
            **self.keys,
            "DATABASE_URL": f"{POSTGRES}/{self.database}",
            "CACHE_URL": f"{REDIS}/{self.redis_dbs[0]}?{REDIS_CACHE_TIMEOUTS}",
            "TASK_QUEUE_URL": f"{REDIS}/{self.redis_dbs[1]}",
            "SITE_URL": self.url(),
            "USE_X_FORWARDED_PROTO": "true",
            "TRUSTED_PROXIES": "127.0.0.1/32",  # nginx: the sign-in lockout counts the address it saw
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": self.url(),
            "STATIC_ROOT": str(self.folder / "static"),
            "EMAIL_URL": "consolemail://",
            "LOG_LEVEL": "INFO",
            **self.settings,
            **overrides,
        }

    def manage(self, *command: str) -> str:
        """Run a manage.py command with the setup's environment; its output."""
        ran = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=BASE_DIR,
            env=self.environment(),
            capture_output=True,
            text=True,
        )
        if ran.returncode != 0:
            raise StartError(f"manage.py {command[0]} failed:\n{ran.stdout}{ran.stderr}")
        return ran.stdout

    def start(self) -> None:
        """Once: a fresh database, migrate, collectstatic, the administrator; then every process, side by side."""
        ensure_services(start=False)
        _postgres(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        self.database_created = True
        self.flush_redis()
        collecting = self._manage_in_background("collectstatic", "--noinput", "--verbosity", "0")
        self.manage("migrate", "--noinput", "--verbosity", "0")
        name, password = self.admin
        self.manage("shell", "--command", CREATE_ADMIN.format(name=name, password=password))
        if collecting.wait() != 0:
            raise StartError(f"manage.py collectstatic failed:\n{collecting.stdout.read()}")
        waiting = [self.spawn_app_server(name) for name in APP_SERVERS] + [self.spawn_worker(name) for name in WORKERS]
        waiting.append(self.spawn_nginx())
        for ready in waiting:
            ready()

    def _manage_in_background(self, *command: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", *command],
            cwd=BASE_DIR,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def flush_redis(self) -> None:
        for number in self.redis_dbs:
            redis.Redis.from_url(f"{REDIS}/{number}", socket_connect_timeout=1).flushdb()

    def _spawn(self, name: str, command: list[str], environment: dict[str, str], ready, log: Path | None = None):
        """Start a process; the function that waits until it is ready (or says where its log is)."""
        with self.log(name).open("a") as output:
            process = subprocess.Popen(command, cwd=BASE_DIR, env=environment, stdout=output, stderr=subprocess.STDOUT)
        self.processes[name] = process
        return lambda: _wait(ready, f"{name} did not start: see {log or self.log(name)}", process=process)

    def spawn_app_server(self, name: str, **overrides: str):
        """A gunicorn instance on 127.0.0.1; several on one machine each need their own control socket."""
        self.ports.setdefault(name, free_port())
        environment = self.environment(**overrides)
        command = [sys.executable, "-m", "gunicorn", "gathr_connector.wsgi:application"]
        command += ["--bind", f"127.0.0.1:{self.ports[name]}", "--workers", "2", "--threads", "4"]
        command += ["--worker-class", "gthread", "--timeout", environment.get("WEB_TIMEOUT", "60")]
        command += ["--graceful-timeout", "5", "--control-socket", str(self.folder / f"{name}.ctl")]
        command += ["--access-logfile", "-", "--access-logformat", ACCESS_LOG, "--forwarded-allow-ips", "127.0.0.1"]
        return self._spawn(name, command, environment, lambda: _serving(self.url(name)))

    def start_app_server(self, name: str, **overrides: str) -> str:
        self.spawn_app_server(name, **overrides)()
        return self.url(name)

    def spawn_worker(self, name: str):
        """`manage.py run_huey`; -V logs each task it executes (which worker ran which TEST)."""
        command = [sys.executable, "manage.py", "run_huey", "-V"]
        started = self._text(name).count(CONSUMER_STARTED) if self.log(name).exists() else 0  # a restart: same log
        return self._spawn(
            name, command, self.environment(), lambda: self._text(name).count(CONSUMER_STARTED) > started
        )

    def start_worker(self, name: str) -> None:
        self.spawn_worker(name)()

    def spawn_nginx(self):
        values = {"LISTEN": f"127.0.0.1:{self.ports['nginx']}", "SERVER_NAME": "127.0.0.1 localhost"}
        values |= {
            "APP_SERVER_A": f"127.0.0.1:{self.ports['app-a']}",
            "APP_SERVER_B": f"127.0.0.1:{self.ports['app-b']}",
        }
        (self.folder / "site.conf").write_text(render(SITE_TEMPLATE.read_text(), values))
        (self.folder / "nginx.conf").write_text(NGINX_MAIN.format(folder=self.folder))
        (self.folder / "nginx-temp").mkdir(exist_ok=True)
        errors = self.folder / "nginx-error.log"
        command = [NGINX, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"), "-e", str(errors)]
        return self._spawn("nginx", command, {"PATH": "/usr/bin:/bin"}, lambda: _serving(self.url()), log=errors)

    def _text(self, name: str) -> str:
        return self.log(name).read_text(errors="replace")

    def executed(self, worker: str) -> list[str]:
        """The ids of the TEST tasks this worker took, in order, from its log (Huey's own handler's lines)."""
        return re.findall(r"INFO:huey:[^:]*:Executing connections\.background\.run_test: (\S+)", self._text(worker))

    def kill(self, name: str) -> None:
        """SIGKILL: what a crash or the kernel's out-of-memory killer does (nothing is cleaned up)."""
        process = self.processes.pop(name)
        process.kill()
        process.wait()

    def stop(self, *names: str) -> None:
        """Stop these processes (by default all), gracefully and side by side; one still up after 10 s is killed."""
        chosen = [name for name in reversed(names or list(self.processes)) if name in self.processes]
        stopping = [(name, self.processes.pop(name)) for name in chosen]
        for name, process in stopping:
            if process.poll() is None:
                process.send_signal(GRACEFUL.get(name.split("-")[0], signal.SIGTERM))
        for _name, process in stopping:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def tear_down(self) -> None:
        """Everything the setup started or made: its processes, its database, its Redis keys and its folder."""
        try:
            self.stop()
            if self.database_created:
                _postgres(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.database)))
                self.database_created = False
            if _redis_up():
                self.flush_redis()
        finally:
            self._redis_lock.close()
            shutil.rmtree(self.folder, ignore_errors=True)


def ensure_nginx() -> None:
    if not Path(NGINX).exists():
        print("--- installing nginx (Debian's package)", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx"], check=True)


def serve(setup: TwoServers) -> None:
    """Until Ctrl-C or SIGTERM; when one process stops, say which and stop the rest (as honcho does)."""
    print(f"Serving on {setup.url()} (app servers {setup.url('app-a')}, {setup.url('app-b')}); Ctrl-C stops.")
    print(f"  administrator: {setup.admin[0]}  password: {setup.admin[1]}\n  logs: {setup.folder}", flush=True)
    while True:
        stopped = [name for name, process in setup.processes.items() if process.poll() is not None]
        if stopped:
            raise SystemExit(f"{', '.join(stopped)} stopped (see {setup.log(stopped[0])}): stopping the rest.")
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="nginx's port on 127.0.0.1 (default 8080)")
    parser.add_argument("--start-services", action="store_true", help="start PostgreSQL and Redis if they are down")
    args = parser.parse_args()
    ensure_nginx()
    ensure_services(args.start_services)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the `trap`: SystemExit runs the cleanup below
    with TwoServers(port=args.port) as setup:
        try:
            serve(setup)
        except KeyboardInterrupt:
            print("\nStopping.")


if __name__ == "__main__":
    main()
