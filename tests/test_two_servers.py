"""Several machines, on one (deploy/): nginx in front of two app servers, two TEST workers, PostgreSQL and Redis.

The setup is deploy/two_servers.py's, started once for this module in a fresh PostgreSQL database (whatever database
the suite runs on) and torn down at its end. Browsers are `requests` sessions that sign in with the form and send a
browser's Origin header with each POST. TESTs go to local servers: one that closes each connection after 0.3 s (a
quick "Connection unavailable" that still keeps a worker thread busy) and one that accepts and never answers.
"""

import re
import socketserver
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
import redis
import requests

from connections.runs import STALE_GRACE
from deploy import two_servers
from deploy.two_servers import TwoServers
from tests.helpers import in_ci
from tests.onprem.helpers import onprem_form_data

TOTAL_TIMEOUT = 6  # TEST_TOTAL_TIMEOUT: a killed worker's TEST is reported failed within this plus STALE_GRACE
SETTINGS = {
    "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",  # the local servers that stand in for Dynamics CRM
    "TEST_RATE_PER_USER": "3",
    "TEST_RATE_PER_HOST": "1000",  # every TEST here targets 127.0.0.1
    "TEST_TOTAL_TIMEOUT": str(TOTAL_TIMEOUT),
    "TEST_CONNECT_TIMEOUT": "2",
    "TEST_READ_TIMEOUT": "5",
    "WEB_TIMEOUT": "30",
    "TEST_WORKERS": "2",
}
PASSWORD = "several machines passphrase 42"
TESTERS = ("tester-1", "tester-2", "tester-3", "tester-4", "tester-5")
CREATE_USERS = (
    "from django.contrib.auth.models import User\n"
    f"for name in {(*TESTERS, 'rater')!r}: User.objects.create_superuser(name, '', {PASSWORD!r})"
)


class Hold(socketserver.BaseRequestHandler):
    """Accept a connection and keep it open without a word for `server.hold` seconds, then close it."""

    def handle(self) -> None:
        self.server.accepted += 1
        self.server.closing.wait(self.server.hold)


def serve_tcp(hold: float) -> socketserver.ThreadingTCPServer:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Hold)
    server.daemon_threads, server.hold, server.accepted, server.closing = True, hold, 0, threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def stack():
    """The whole setup, once for the module (module scope: it stops as soon as these tests are done)."""
    missing = None if Path(two_servers.NGINX).exists() else "nginx is missing: apt-get install -y nginx (.ci/run does)"
    try:
        two_servers.ensure_services(start=False)
    except two_servers.StartError as error:
        missing = missing or str(error)
    if missing and in_ci():
        pytest.fail(f"CI must run the several-machines tests: {missing}")
    if missing:
        pytest.skip(missing)
    with TwoServers(settings=SETTINGS) as setup:
        yield setup


@pytest.fixture(scope="module")
def targets():
    servers = SimpleNamespace(closing=serve_tcp(hold=0.3), silent=serve_tcp(hold=60))
    yield servers
    for server in vars(servers).values():
        server.closing.set()
        server.shutdown()
        server.server_close()


def sign_in(root: str, username: str, password: str = PASSWORD) -> requests.Session:
    browser = requests.Session()
    browser.trust_env = False  # no proxy between us and loopback
    page = browser.get(f"{root}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    data = {"username": username, "password": password, "csrfmiddlewaretoken": token}
    answer = post(browser, root, "/accounts/login/", data)
    assert answer.status_code == 302 and answer.headers["Location"] == "/connections/", answer.text[:300]
    return browser


def post(browser: requests.Session, root: str, path: str, data: dict | None = None, **headers) -> requests.Response:
    """A POST as a browser sends it: the CSRF token, and the Origin of the page it came from."""
    data = {"csrfmiddlewaretoken": browser.cookies["csrftoken"], **(data or {})}
    return browser.post(f"{root}{path}", data, headers={"Origin": root, **headers}, allow_redirects=False, timeout=30)


def create_connection(browser: requests.Session, root: str, name: str, port: int) -> int:
    data = onprem_form_data(name=name, url=f"http://127.0.0.1:{port}/Contoso/")
    answer = post(browser, root, "/connections/new/", data)
    assert answer.status_code == 302, answer.text[:500]
    return int(re.fullmatch(r"/connections/(\d+)/", answer.headers["Location"]).group(1))


def start_test(browser: requests.Session, root: str, pk: int) -> requests.Response:
    return post(browser, root, f"/connections/{pk}/test/", {"source": "page"}, Accept="application/json")


def status(browser: requests.Session, root: str, run_id: str) -> dict:
    answer = browser.get(f"{root}/connections/tests/{run_id}/", headers={"Accept": "application/json"}, timeout=10)
    assert answer.status_code == 200, answer.text[:300]
    return answer.json()


def wait_done(browser: requests.Session, root: str, run_id: str, timeout: float, what: str = "the TEST ended") -> dict:
    return wait_until(lambda: (found := status(browser, root, run_id))["done"] and found, timeout, what)


def wait_until(ready, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := ready():
            return found
        time.sleep(0.1)
    pytest.fail(f"{what} within {timeout:g} s")


def rows(stack: TwoServers, query: str, *params) -> list[tuple]:
    with psycopg.connect(f"{two_servers.POSTGRES}/{stack.database}") as database:
        return database.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def world(stack, targets):
    """Through nginx: the first administrator signs in, starts the Dynamics CRM trial and saves the connections."""
    stack.manage("shell", "--command", CREATE_USERS)
    root = stack.url()
    admin = sign_in(root, *stack.admin)
    trial = post(admin, root, "/marketplace/dynamics-crm/trial/")
    assert trial.status_code == 302 and trial.headers["Location"] == "/marketplace/dynamics-crm/notify-users/"
    quick = targets.closing.server_address[1]
    return SimpleNamespace(
        admin=admin,
        burst=[create_connection(admin, root, f"Burst {index}", quick) for index in range(10)],
        rated=[create_connection(admin, root, f"Rated {index}", quick) for index in range(5)],
        outage=create_connection(admin, root, "Outage", quick),
        silent=create_connection(admin, root, "Silent", targets.silent.server_address[1]),
    )


def test_a_session_made_through_one_app_server_works_on_the_other(stack, world):
    browser = sign_in(stack.url("app-a"), *stack.admin)
    cookie = browser.cookies["sessionid"]
    page = browser.get(f"{stack.url('app-b')}/connections/", allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.status_code
    assert f"Signed in as {stack.admin[0]}" in page.text and "Burst 0" in page.text
    made_on_b = create_connection(browser, stack.url("app-b"), "Made on B", 9)  # B takes A's CSRF token too
    shown_on_a = browser.get(f"{stack.url('app-a')}/connections/{made_on_b}/", timeout=10)
    assert shown_on_a.status_code == 200 and "Made on B" in shown_on_a.text
    assert browser.cookies["sessionid"] == cookie


def test_nginx_spreads_the_requests_over_both_app_servers(stack, world):
    for name in two_servers.APP_SERVERS:  # the access log's second field: the address nginx forwarded for
        assert re.search(r'^127\.0\.0\.1 127\.0\.0\.1 .*"POST /connections/new/ ', stack.log(name).read_text(), re.M), (
            name
        )


def test_a_rate_limit_counts_across_both_app_servers(stack, world):
    rater = sign_in(stack.url(), "rater")
    if time.time() % 60 > 45:  # the limit counts per minute: start at the beginning of one
        time.sleep(60.5 - time.time() % 60)
    roots = [stack.url("app-a"), stack.url("app-b"), stack.url("app-a"), stack.url("app-b"), stack.url()]
    answers = [start_test(rater, root, pk) for root, pk in zip(roots, world.rated, strict=True)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 429]
    for refused in answers[3:]:
        assert "You started more than 3 TESTs in the last minute" in refused.json()["message"]
        assert int(refused.headers["Retry-After"]) > 0
    for started in answers[:3]:
        wait_done(rater, stack.url(), started.json()["id"], 15)


def test_tests_enqueued_through_either_app_server_each_run_exactly_once_on_one_of_the_workers(stack, world):
    testers = [sign_in(stack.url(), name) for name in TESTERS]
    before = {worker: len(stack.executed(worker)) for worker in two_servers.WORKERS}
    started = {}
    for index, pk in enumerate(world.burst):  # two TESTs each (the limit is 3), through A, B, A, B...
        browser, root = testers[index // 2], stack.url(two_servers.APP_SERVERS[index % 2])
        answer = start_test(browser, root, pk)
        assert answer.status_code == 200, answer.text[:300]
        started[answer.json()["id"]] = (browser, pk)
    for run_id, (browser, _pk) in started.items():
        done = wait_done(browser, stack.url(), run_id, 20)
        assert done["ok"] is False and done["message"].startswith("Connection unavailable"), done["message"]
    finished = rows(
        stack, "SELECT state, started_at <= finished_at FROM connections_testrun WHERE id = ANY(%s)", list(started)
    )
    assert finished == [("finished", True)] * 10  # each claimed once by a worker (started_at), then ended
    tested = rows(
        stack,
        "SELECT target_id, count(*) FROM audit_auditevent WHERE action = 'connection.tested' AND target_id = ANY(%s) "
        "GROUP BY target_id",
        [str(pk) for pk in world.burst],
    )
    assert sorted(tested) == sorted((str(pk), 1) for pk in world.burst)
    taken = {worker: stack.executed(worker)[before[worker] :] for worker in two_servers.WORKERS}
    print(f"TESTs taken per worker: { {worker: len(tasks) for worker, tasks in taken.items()} }")
    assert (
        sum(len(tasks) for tasks in taken.values()) == 10 == len({task for tasks in taken.values() for task in tasks})
    )
    assert all(taken.values()), f"one worker took every TEST: {taken}"


@pytest.fixture
def doomed_redis():
    """A Redis of its own on another port, which the test stops (the shared one goes on serving the others)."""
    port = two_servers.free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    wait_until(lambda: two_servers.answers(redis.Redis(port=port).ping), 5, "Redis started")
    yield SimpleNamespace(url=f"redis://127.0.0.1:{port}", port=port, stop=lambda: (server.kill(), server.wait()))
    server.kill()
    server.wait()


def timed(call, *args, **kwargs):
    started = time.monotonic()
    answer = call(*args, **kwargs)
    return answer, time.monotonic() - started


def test_with_redis_down_the_pages_answer_and_test_says_it_cannot_start_and_why(stack, world, doomed_redis):
    # app-queue: only its queue on the doomed Redis. app-redis: its cache and queue, as when one Redis serves both.
    waiting = [
        stack.spawn_app_server("app-queue", TASK_QUEUE_URL=f"{doomed_redis.url}/1"),
        stack.spawn_app_server("app-redis", CACHE_URL=f"{doomed_redis.url}/0", TASK_QUEUE_URL=f"{doomed_redis.url}/1"),
    ]
    try:
        for ready in waiting:
            ready()
        doomed_redis.stop()
        for name, what in (("app-queue", "the task queue"), ("app-redis", "the cache that counts TESTs")):
            root = stack.url(name)
            for path in ("/connections/", f"/connections/{world.outage}/", "/marketplace/"):
                page, seconds = timed(world.admin.get, f"{root}{path}", allow_redirects=False, timeout=10)
                assert page.status_code == 200 and seconds < 1, (name, path, page.status_code, seconds)
            answer, seconds = timed(start_test, world.admin, root, world.outage)
            refused = (
                f"{what} is not reachable (Error 111 connecting to 127.0.0.1:{doomed_redis.port}. Connection refused.)"
            )
            assert answer.status_code == 503 and refused in answer.json()["message"], answer.text[:300]
            assert "Nothing was sent to Microsoft" in answer.json()["message"] and seconds < 2
            print(f"{name} with Redis down: TEST refused (503) in {seconds * 1000:.0f} ms")
    finally:
        stack.stop("app-queue", "app-redis")
    assert rows(stack, "SELECT count(*) FROM connections_testrun WHERE connection_id = %s", world.outage) == [(0,)]


def test_a_worker_killed_in_the_middle_of_a_test_leaves_it_failed_within_its_budget(stack, world, targets):
    before = {worker: len(stack.executed(worker)) for worker in two_servers.WORKERS}
    accepted = targets.silent.accepted
    posted = time.monotonic()
    answer = start_test(world.admin, stack.url(), world.silent)
    assert answer.status_code == 200, answer.text[:300]
    run_id = answer.json()["id"]
    worker = wait_until(
        lambda: next((name for name in before if len(stack.executed(name)) > before[name]), None), 5, "a worker took it"
    )
    wait_until(lambda: targets.silent.accepted > accepted, 5, "the TEST reached the silent server")
    assert status(world.admin, stack.url(), run_id)["state"] == "running"
    stack.kill(worker)
    try:
        budget = TOTAL_TIMEOUT + STALE_GRACE.total_seconds()
        done = wait_done(world.admin, stack.url(), run_id, budget + 5, "the killed worker's TEST was reported")
        elapsed = time.monotonic() - posted
        print(f"TEST of the killed {worker} reported failed {elapsed:.1f} s after it was started")
        assert "the worker running the TEST stopped before it finished" in done["message"]
        assert done["ok"] is False and elapsed <= budget + 2
        assert rows(stack, "SELECT result->>'code' FROM connections_testrun WHERE id = %s", run_id) == [
            ("worker_stopped",)
        ]
        other = next(name for name in before if name != worker)
        assert len(stack.executed(other)) == before[other]  # Huey has no ack-late: nobody ran it a second time
    finally:
        stack.start_worker(worker)  # a replacement, as a supervisor would start
