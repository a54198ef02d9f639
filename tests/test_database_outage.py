"""A database outage: the app says so (503, nothing saved, go back and retry) and answers again once it is over.

The first tests make the database fail inside the test client (every database). The PostgreSQL tests restart
the real server under a real gunicorn (one thread, so one persistent connection that CONN_HEALTH_CHECKS must
replace) and kill a request's backend with pg_terminate_backend while the request waits for a lock.
"""

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import requests
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError, connection, connections
from django.test import Client

from connections import background
from connections.models import Connection
from tests.helpers import form_data, in_ci

BASE_DIR = Path(__file__).resolve().parent.parent
UNAVAILABLE = "The database is unavailable right now; nothing was saved."


def failing(*args, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")


def assert_unavailable_page(response) -> None:
    assert response.status_code == 503
    assert UNAVAILABLE in response.content.decode()
    assert "your browser still has what you typed" in response.content.decode()
    assert int(response["Retry-After"]) > 0


# --- Inside the test client (SQLite and PostgreSQL) ------------------------------------------------------


def test_it_answers_a_form_post_the_database_refuses_with_503(admin_client, monkeypatch):
    monkeypatch.setattr(Connection, "save", failing)
    response = admin_client.post("/connections/new/", form_data())
    assert_unavailable_page(response)
    assert response["Content-Type"].startswith("text/html")
    monkeypatch.undo()
    assert not Connection.objects.exists()


def test_it_answers_a_test_with_json_the_form_script_can_show(admin_client, monkeypatch):
    monkeypatch.setattr(background, "start_unsaved", failing)
    response = admin_client.post("/connections/new/", form_data(action="test"), HTTP_ACCEPT="application/json")
    assert response.status_code == 503
    assert response.json() == {"ok": False, "message": response.json()["message"], "hint": ""}
    assert response.json()["message"].startswith(UNAVAILABLE)


def test_it_answers_503_when_the_session_cannot_be_read(admin_client, monkeypatch, all_logs):
    monkeypatch.setattr(SessionStore, "load", failing)
    assert_unavailable_page(admin_client.get("/connections/"))
    assert any("Database unavailable during GET /connections/" in r.getMessage() for r in all_logs)


def test_it_leaves_other_errors_to_the_500_page(admin_user, monkeypatch):
    monkeypatch.setattr(background, "start_unsaved", lambda *a, **k: 1 / 0)
    browser = Client(raise_request_exception=False)
    browser.force_login(admin_user)
    assert browser.post("/connections/new/", form_data(action="test")).status_code == 500


# --- A lock, not an outage (SQLite and PostgreSQL) ------------------------------------------------------

BUSY = "The database was too busy to finish this request in time; it may not have been saved."


@contextmanager
def write_lock():
    """Another connection's lock on what creating a connection writes: SQLite's write lock on the database,
    PostgreSQL's exclusive lock on the connections table."""
    if connection.vendor == "sqlite":
        locker = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        try:
            locker.execute("BEGIN IMMEDIATE")
            yield
            locker.execute("ROLLBACK")
        finally:
            locker.close()
    else:
        with table_locked(Connection._meta.db_table):
            yield


@contextmanager
def locked_for(seconds: float):
    """Hold `write_lock()` from a thread of its own for `seconds`, while the test goes on."""
    held = threading.Event()

    def hold():
        with write_lock():
            held.set()
            time.sleep(seconds)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(timeout=10), "the lock was not taken"
    try:
        yield
    finally:
        holder.join(timeout=30)


@pytest.fixture
def short_lock_wait(transactional_db, monkeypatch):
    """This process waits 0.3 s for a lock (SQLITE_BUSY_TIMEOUT, or PostgreSQL's lock_timeout)."""
    if connection.vendor == "sqlite":
        connection.close()
        monkeypatch.setitem(connection.settings_dict["OPTIONS"], "timeout", 0.3)
    else:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
    yield
    connection.close()  # the next test connects with the settings' wait


@pytest.mark.django_db(transaction=True)
def test_a_form_post_that_waits_for_a_lock_is_saved_not_refused(admin_client):
    with locked_for(1.0):
        response = admin_client.post("/connections/new/", form_data(name="Contoso Waits"))
    assert response.status_code == 302, response.content.decode()[:300]
    assert list(Connection.objects.values_list("name", flat=True)) == ["Contoso Waits"]


@pytest.mark.usefixtures("short_lock_wait")
def test_a_lock_held_longer_than_the_wait_is_called_busy_not_unavailable(admin_client, all_logs):
    with write_lock():
        refused = admin_client.post("/connections/new/", form_data(name="Contoso Busy"))
        refused_test = admin_client.post(
            "/connections/new/", form_data(name="Contoso Busy", action="test"), HTTP_ACCEPT="application/json"
        )
    assert refused.status_code == 503
    assert BUSY in refused.content.decode() and "Database busy" in refused.content.decode()
    assert UNAVAILABLE not in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
    assert refused_test.status_code == 503 and refused_test.json()["message"].startswith(BUSY)
    assert any(r.getMessage().startswith("Database busy during POST /connections/new/") for r in all_logs)
    assert not any("Database unavailable" in r.getMessage() for r in all_logs)
    retried = admin_client.post("/connections/new/", form_data(name="Contoso Busy"))
    assert retried.status_code == 302
    assert list(Connection.objects.values_list("name", flat=True)) == ["Contoso Busy"]


# --- PostgreSQL restarted under a real app server ------------------------------------------------------


def cluster() -> tuple[str, str]:
    """The local PostgreSQL cluster (version, name) on the test database's port, or skip (fail in CI)."""
    reason = None
    if connection.vendor != "postgresql":
        reason = "restarts PostgreSQL: run with DATABASE_URL=postgres://... (CI does)"
    elif os.geteuid() != 0 or not shutil.which("pg_ctlcluster"):
        reason = "restarting PostgreSQL needs root and pg_ctlcluster (Debian's postgresql-common)"
    elif connection.settings_dict["HOST"] not in ("127.0.0.1", "localhost", "", "::1"):
        reason = "the test database is not on this machine"
    if reason and connection.vendor == "postgresql" and in_ci():
        pytest.fail(f"CI must run the database outage tests: {reason}")
    if reason:
        pytest.skip(reason)
    port = str(connection.settings_dict["PORT"] or 5432)
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True).stdout
    found = [line.split()[:2] for line in listed.splitlines() if line.split()[2:3] == [port]]
    if not found:
        pytest.fail(f"no PostgreSQL cluster on port {port}: {listed}")
    return found[0][0], found[0][1]


def pg_ctl(version: str, name: str, action: str) -> None:
    mode = ["-m", "fast"] if action in ("stop", "restart") else []
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action, *mode], check=True)
    connections.close_all()  # this process's connection died with the server


@pytest.fixture
def postgres(transactional_db):
    version, name = cluster()
    yield lambda action: pg_ctl(version, name, action)
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True).stdout
    if any(line.split()[:2] == [version, name] and "online" not in line for line in listed.splitlines()):
        pg_ctl(version, name, "start")  # a failed test must not leave the suite without its database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def static_root(tmp_path_factory) -> Path:
    """collectstatic once: with DEBUG off the pages need whitenoise's manifest."""
    root = tmp_path_factory.mktemp("static")
    environment = {**os.environ, "STATIC_ROOT": str(root)}
    manage = [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]
    subprocess.run(manage, cwd=BASE_DIR, env=environment, check=True)
    return root


@pytest.fixture
def app_server(postgres, static_root):
    """gunicorn with the production settings on the test database: one worker, one thread, so every request
    reuses one connection. Plain http on loopback: the HTTPS redirect and secure cookies are off, nothing else."""
    db = connection.settings_dict
    port = free_port()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gathr_connector.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CONN_MAX_AGE": "600",
        "APP_ENV": "production",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "SECURE_HSTS_SECONDS": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "false",
        "SECRET_KEY": django_settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": ",".join(django_settings.FIELD_ENCRYPTION_KEY),
        "STATIC_ROOT": str(static_root),
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "gunicorn", "gathr_connector.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", "--threads", "1", "--worker-class", "gthread", "--graceful-timeout", "1"]
    command += ["--control-socket", str(static_root.parent / f"gunicorn-{port}.ctl")]
    server = subprocess.Popen(command, cwd=BASE_DIR, env=environment, stdout=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(root)
        yield root
    finally:
        server.terminate()
        server.wait(timeout=15)


def wait_until_serving(root: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{root}/accounts/login/", timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    pytest.fail("gunicorn did not start within 30 s")


@pytest.fixture
def signed_in(app_server, admin_user, dynamics_crm) -> requests.Session:
    """A signed-in browser (the session row is committed: the server is another process)."""
    client = Client()
    client.force_login(admin_user)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    session.root = app_server
    return session


def open_form(signed_in: requests.Session) -> dict:
    """GET the New connection page as a browser does, and the form it shows (with the CSRF token)."""
    page = signed_in.get(f"{signed_in.root}/connections/new/", timeout=30)
    assert page.status_code == 200, page.text[:300]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return form_data(name="Contoso Outage", csrfmiddlewaretoken=token)


def post_form(signed_in: requests.Session, data: dict, **headers) -> requests.Response:
    return signed_in.post(
        f"{signed_in.root}/connections/new/", data, headers=headers, allow_redirects=False, timeout=30
    )


def saved_names() -> list[str]:
    connections.close_all()
    return list(Connection.objects.values_list("name", flat=True))


def test_it_answers_again_after_postgresql_restarts_between_two_requests(signed_in, postgres):
    assert signed_in.get(f"{signed_in.root}/connections/", timeout=30).status_code == 200
    postgres("restart")
    again = signed_in.get(f"{signed_in.root}/connections/", timeout=30)
    assert again.status_code == 200, again.text[:300]  # the stale connection failed its health check
    assert "Connections" in again.text


def test_a_form_post_during_an_outage_gets_503_and_the_retry_saves_it(signed_in, postgres):
    data = open_form(signed_in)
    postgres("stop")
    try:
        refused = post_form(signed_in, data)
        refused_test = post_form(signed_in, {**data, "action": "test"}, Accept="application/json")
    finally:
        postgres("start")
    assert refused.status_code == 503 and UNAVAILABLE in refused.text, refused.text[:300]
    assert int(refused.headers["Retry-After"]) > 0
    assert refused_test.status_code == 503 and refused_test.json()["message"].startswith(UNAVAILABLE)
    assert saved_names() == []
    retried = post_form(signed_in, data)  # what the browser still had, sent again
    assert retried.status_code == 302, retried.text[:300]
    assert saved_names() == ["Contoso Outage"]


@contextmanager
def table_locked(table: str):
    """Hold an exclusive lock on `table` from a connection of our own, so that a request waits on it."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    ) as locker:
        locker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield locker
        locker.rollback()


def waiting_backend(locker, timeout: float = 20) -> int:
    """The pid of the backend that waits for our lock: the app's, in the middle of a request."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = locker.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
        if row:
            return row[0]
        time.sleep(0.05)
    pytest.fail("no request waited for the lock")


def test_a_request_whose_backend_is_killed_midway_gets_503_and_the_next_one_works(signed_in, postgres):
    data = open_form(signed_in)
    answers = []
    with table_locked(Connection._meta.db_table) as locker:
        request = threading.Thread(target=lambda: answers.append(post_form(signed_in, data)))
        request.start()
        pid = waiting_backend(locker)  # the form's name check waits for the table
        assert locker.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0] is True
        request.join(timeout=30)
    assert answers and answers[0].status_code == 503, answers and answers[0].text[:300]
    assert UNAVAILABLE in answers[0].text
    assert saved_names() == []
    retried = post_form(signed_in, data)
    assert retried.status_code == 302, retried.text[:300]
    assert saved_names() == ["Contoso Outage"]
