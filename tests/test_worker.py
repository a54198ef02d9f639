"""The real worker: `manage.py run_huey` in a process of its own takes the TESTs the pages queue, and `make run`'s
Procfile stops the web server when the worker dies (and says so)."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection as db
from huey.contrib.djhuey import HUEY

from connections.runs import RunState, TestRun
from tests.helpers import form_data

BASE_DIR = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    settings = db.settings_dict
    if db.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    return (
        f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    )


@contextmanager
def worker_processes(tmp_path, command: list[str], count: int = 1, **settings: str):
    """This test process queues into a SQLite file; `count` worker processes of their own (`command`, with the
    test database and `settings` in their environment) take from it."""
    queue = tmp_path / "tasks.sqlite3"
    kept = dict(HUEY.storage_kwargs)
    HUEY.storage_kwargs = {**kept, "filename": str(queue)}
    HUEY.immediate = False
    environment = {**os.environ, "DATABASE_URL": database_url(), "TASK_QUEUE_URL": f"sqlite:///{queue}"}
    environment |= {"TEST_WORKERS": "2", "LOG_LEVEL": "WARNING", "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8"}
    environment |= settings
    processes = [
        subprocess.Popen(command, cwd=BASE_DIR, env=environment, stderr=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        HUEY.immediate = True
        HUEY.storage_kwargs = kept


@pytest.fixture
def worker(tmp_path, tasks_run_inline):
    with worker_processes(tmp_path, [sys.executable, "manage.py", "run_huey"]) as (process,):
        yield process


def wait_until_done(run_id: str, seconds: float = 30) -> TestRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = TestRun.objects.get(pk=run_id)
        if run.state == RunState.FINISHED:
            return run
        time.sleep(0.05)
    raise AssertionError(f"TEST {run_id} still {run.state} after {seconds} s")


def test_the_worker_process_runs_the_tests_the_pages_queue(admin_client, worker):
    # A port nothing listens on: the TEST ends fast with "Connection unavailable", wherever it runs.
    data = form_data(action="test", crm_version="CRM2011+", auth_scheme="NTLM", url="http://127.0.0.1:9/Contoso/")
    data |= {"client_id": "", "azure_tenant": "", "windows_user": "CONTOSO\\maria", "windows_password": "pw 1234"}
    started = time.monotonic()
    answer = admin_client.post("/connections/new/", data, HTTP_ACCEPT="application/json").json()
    answered = time.monotonic() - started
    assert answer["state"] == "queued" and answered < 2
    run = wait_until_done(answer["id"])
    assert run.result["ok"] is False and "refused" in run.result["message"]
    assert run.started_at is not None and run.payload_encrypted == ""
    status = admin_client.get(answer["status_url"], HTTP_ACCEPT="application/json").json()
    assert status["done"] is True and status["message"] == run.result["message"]


def test_make_runs_procfile_stops_the_web_server_when_the_worker_dies(tmp_path):
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "PORT": "0"}
    environment |= {"TASK_QUEUE_URL": f"sqlite:///{tmp_path / 'tasks.sqlite3'}", "WORKERS": "1", "THREADS": "1"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=environment)
    honcho = BASE_DIR / ".venv" / "bin" / "honcho"
    command = [str(honcho), "--procfile", "Procfile", "start", "--port", str(free_port())]
    both = subprocess.Popen(command, cwd=BASE_DIR, env=environment, stdout=subprocess.PIPE, text=True)
    worker_pid = wait_for_worker(environment["TASK_QUEUE_URL"])
    os.kill(worker_pid, signal.SIGKILL)
    output, _ = both.communicate(timeout=30)
    assert both.returncode != 0
    assert "worker.1 stopped" in output and "web.1 stopped" in output


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_worker(queue_url: str, seconds: float = 30) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-f", "manage.py run_huey"], capture_output=True, text=True).stdout.split()
        for pid in found:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            if f"TASK_QUEUE_URL={queue_url}".encode() in environ:
                return int(pid)
        time.sleep(0.2)
    raise AssertionError("the worker did not start")
