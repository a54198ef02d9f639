"""Load the production server with many people at once and check that nothing failed and nothing was lost.

    .venv/bin/python bench/load.py                          # SQLite and PostgreSQL, 16 and 32 clients
    .venv/bin/python bench/load.py --databases sqlite --clients 16 --operations 20 --label quick --write

For each database and number of clients: a fresh database (a temporary SQLite file, or a PostgreSQL database
created for the run and dropped after), migrate, users, collectstatic; gunicorn as `make run` starts it (gthread,
2 workers × 8 threads) with APP_ENV=production over plain HTTP on a free port of 127.0.0.1, Redis as the cache,
and beside it the TEST worker (`manage.py run_huey`, bench/load_worker.py) on the same database, its queue a
SQLite file of the run (SQLite) or a Redis database flushed first (PostgreSQL). TEST talks to the local simulator
of Entra ID and Dataverse (bench/load_hosts.py), from the worker. The clients (bench/load_clients.py) sign in, then
all do their mix of operations at once. Afterwards the rows are counted: every acknowledged CREATE and edit is
there, every TEST finished once and recorded, every sign-in logged, every wrong password counted by the lockout.
With --write the figures replace this label's section of bench/RESULTS.md. Not part of `make test`.
"""

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis
import requests
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.load_clients import TEST_BUDGET, LoadClient, Microsoft, Person, Tally  # noqa: E402
from bench.load_report import record, section, table  # noqa: E402
from tests.simulator import Simulator  # noqa: E402

POSTGRES = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379"
PASSWORD = secrets.token_urlsafe(18)
ENVIRONMENT_URL = "https://contoso.crm.dynamics.com/"
SEED = (BASE_DIR / "bench" / "load_seed.py").read_text()
VERIFY = (BASE_DIR / "bench" / "load_verify.py").read_text()


def people(count: int) -> list[Person]:
    """Every fourth client is an organization administrator (a superuser); each mistypes its own victim's password."""
    return [Person(f"load-{i:02d}", PASSWORD, i % 4 == 0, f"load-mistyped-{i:02d}") for i in range(count)]


def environment(folder: Path, database_url: str, queue_url: str, simulator: Simulator) -> dict:
    keep = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("DJANGO")}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "gathr_connector.settings",
        "APP_ENV": "production",
        "DEBUG": "false",
        # Plain HTTP on loopback: no TLS to redirect to or to keep cookies to.
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "SECURE_HSTS_SECONDS": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "CACHE_URL": f"{REDIS}/13",  # a Redis database of its own
        "TASK_QUEUE_URL": queue_url,
        "TEST_TOTAL_TIMEOUT": str(TEST_BUDGET),
        "STATIC_ROOT": str(folder / "static"),
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "WARNING",
        # TEST's abuse limits would refuse most TESTs of 16 people against one host: raised, to measure the TESTs.
        "TEST_RATE_PER_USER": "100000",
        "TEST_RATE_PER_HOST": "100000",
        "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32",
        "REQUESTS_CA_BUNDLE": simulator.ca_cert_path,
        "LOAD_SIMULATOR_PORT": str(simulator.port),
    }


def manage(env: dict, *command: str, **extra) -> subprocess.CompletedProcess:
    command = [sys.executable, "manage.py", *command]
    return subprocess.run(command, cwd=BASE_DIR, env={**env, **extra}, check=True, capture_output=True, text=True)


def prepare(env: dict, clients: list[Person]) -> None:
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    manage(env, "shell", "--command", SEED, LOAD_PEOPLE=json.dumps([vars(person) for person in clients]))


@contextmanager
def database(kind: str, folder: Path, label: str = "load"):
    """The DATABASE_URL of a fresh database: a SQLite file in `folder`, or a PostgreSQL database dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{label}.sqlite3'}"
        return
    name = f"gathr_{label.replace('-', '_')}_{os.getpid()}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def task_queue(kind: str, folder: Path) -> str:
    """The TASK_QUEUE_URL of an empty queue: a SQLite file beside the SQLite database, or a Redis database flushed."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'tasks.sqlite3'}"
    url = f"{REDIS}/12"
    redis.Redis.from_url(url).flushdb()
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(env: dict, log: Path):
    """gunicorn as `make run` starts it; the root URL once it answers."""
    root = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "gunicorn", "bench.load_wsgi:application", "--bind", root.removeprefix("http://")]
    command += ["--workers", "2", "--threads", "8", "--worker-class", "gthread", "--timeout", "60"]
    command += ["--graceful-timeout", "30", "--no-control-socket"]  # runs side by side share no socket
    server = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_until_serving(root, log)
        yield root
    finally:
        server.terminate()
        server.wait(timeout=60)


@contextmanager
def working(env: dict, log: Path):
    """The TEST worker as `make run` starts it (`manage.py run_huey`, bench/load_worker.py), with the same settings."""
    command = [sys.executable, "-m", "bench.load_worker"]
    worker = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        yield
        if worker.poll() is not None:
            raise SystemExit(f"the TEST worker stopped during the run: see {log}")
    finally:
        worker.send_signal(signal.SIGINT)  # Huey's graceful stop (its SIGTERM abandons the TESTs it is running)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def wait_until_serving(root: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{root}/accounts/login/", timeout=5)
            return
        except requests.ConnectionError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not start: see {log}")


def simulated_microsoft(simulator: Simulator) -> Microsoft:
    tenant = simulator.add_tenant(domains=("contoso.onmicrosoft.com",))
    app = simulator.add_app(tenant.tenant_id)
    secret = simulator.add_secret(app.client_id)
    environment_ = simulator.add_environment(ENVIRONMENT_URL, tenant_id=tenant.tenant_id)
    simulator.add_application_user(environment_.url, app.client_id)
    return Microsoft("contoso.onmicrosoft.com", app.client_id, secret.value, environment_.url)


def drive(root: str, clients: list[Person], microsoft: Microsoft, operations: int) -> tuple[Tally, float]:
    """Every client in its own thread, all at once; the merged tally and the wall-clock seconds."""
    signed_in, trial_started = threading.Barrier(len(clients)), threading.Barrier(len(clients))
    loads = [LoadClient(root, i, person, microsoft, seed=7) for i, person in enumerate(clients)]
    threads = [threading.Thread(target=load.run, args=(operations, signed_in, trial_started)) for load in loads]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    total = Tally()
    for load in loads:
        total.merge(load.tally)
    return total, elapsed


def verify(env: dict, tally: Tally, clients: list[Person], folder: Path) -> dict:
    """Count the rows: what the app acknowledged and is missing from the database (see bench/load_verify.py)."""
    expected = {
        "names": {str(pk): name for pk, name in tally.names.items()},
        "created": tally.created,
        "edited": tally.edited,
        "tests": tally.tests,
        "sign_ins": dict(tally.sign_ins),
        "wrong_passwords": dict(tally.wrong_passwords),
        "users": len(clients) + len({p.mistyped_username for p in clients}),
    }
    path = folder / "expected.json"
    path.write_text(json.dumps(expected))
    checked = manage(env, "shell", "--command", VERIFY, LOAD_EXPECTED=str(path))
    return json.loads(checked.stdout.strip().splitlines()[-1])


def one_run(kind: str, count: int, operations: int, simulator: Simulator, microsoft: Microsoft) -> dict:
    clients = people(count)
    with tempfile.TemporaryDirectory(prefix="gathr-load-") as tmp, database(kind, Path(tmp)) as url:
        folder = Path(tmp)
        env = environment(folder, url, task_queue(kind, folder), simulator)
        prepare(env, clients)
        logs = BASE_DIR / "bench" / "results"
        with (
            working(env, logs / f"load-{kind}-{count}-worker.log"),
            served(env, logs / f"load-{kind}-{count}.log") as root,
        ):
            tally, elapsed = drive(root, clients, microsoft, operations)
        lost = verify(env, tally, clients, folder)
    return {"database": kind, "clients": count, "elapsed": elapsed, "tally": tally, "lost": lost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--clients", default="16,32", help="comma-separated numbers of concurrent clients")
    parser.add_argument("--operations", type=int, default=40, help="operations per client")
    parser.add_argument("--label", default="latest", help="the section of RESULTS.md to write")
    parser.add_argument("--note", default="", help="a sentence for the section, e.g. which commit ran")
    parser.add_argument("--write", action="store_true", help="write the figures to bench/RESULTS.md")
    args = parser.parse_args()
    (BASE_DIR / "bench" / "results").mkdir(exist_ok=True)
    runs = []
    with Simulator() as simulator:
        microsoft = simulated_microsoft(simulator)
        for kind in args.databases.split(","):
            for count in (int(n) for n in args.clients.split(",")):
                runs.append(one_run(kind, count, args.operations, simulator, microsoft))
                print("\n".join(table(runs[-1])), flush=True)
    if args.write:
        record(args.label, section(args.label, runs, args))


if __name__ == "__main__":
    main()
