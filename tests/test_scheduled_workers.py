"""The schedule on two real workers (`manage.py run_huey` in two processes on one queue and one database): every due
connection is TESTed exactly once, and never more scheduled TESTs at once than SCHEDULED_TEST_CONCURRENCY."""

import sys
import time

import pytest
from django.utils import timezone

from connections.background import continue_schedule
from connections.models import Connection
from connections.runs import RunSource, RunState, TestRun
from tests.test_connection_test import good
from tests.test_worker import worker_processes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_password_hashing")]
CONNECTIONS = 12
CONCURRENCY = 3


@pytest.fixture
def two_workers(tmp_path, tasks_run_inline, microsoft):
    """Two worker processes on the queue this test process writes to; their TESTs reach the simulator as
    bench/load_worker.py's do (a hosts-file resolver in the worker)."""
    ca_bundle = microsoft.sim.ca_cert_path
    with worker_processes(
        tmp_path,
        [sys.executable, "-m", "bench.load_worker"],
        count=2,
        TEST_WORKERS="3",
        OUTBOUND_ALLOWED_NETWORKS="127.0.0.1/32",
        SCHEDULED_TEST_CONCURRENCY=str(CONCURRENCY),
        LOAD_SIMULATOR_PORT=str(microsoft.sim.port),
        REQUESTS_CA_BUNDLE=ca_bundle,
        CURL_CA_BUNDLE=ca_bundle,
    ) as workers:
        yield workers


def most_at_once(runs) -> int:
    """The largest number of TESTs that were running at the same moment."""
    edges = sorted([(run.started_at, 1) for run in runs] + [(run.finished_at, -1) for run in runs])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.2)


def test_two_workers_test_each_due_connection_once_within_the_bound(make_connection, microsoft, two_workers):
    microsoft.sim.set_delay(0.4, path="/api/data/")  # each TEST lasts long enough for the workers to overlap
    saved = [make_connection(**good(microsoft), name=f"Contoso {n:02}") for n in range(CONNECTIONS)]
    Connection.objects.update(next_test_at=timezone.now())
    for _ in range(8):  # both workers' threads dispatch at the same time
        continue_schedule()
    scheduled = TestRun.objects.filter(source=RunSource.SCHEDULE)

    wait_for(lambda: scheduled.filter(state=RunState.FINISHED).count() >= CONNECTIONS, 90)
    for _ in range(4):  # later dispatches find nothing due
        continue_schedule()
    wait_for(lambda: False, 2)

    runs = list(scheduled)
    assert sorted(run.connection_id for run in runs) == sorted(c.pk for c in saved)  # each once, none twice
    assert all(run.state == RunState.FINISHED and run.result["ok"] for run in runs), [r.result for r in runs]
    assert 2 <= most_at_once(runs) <= CONCURRENCY
    assert all(process.poll() is None for process in two_workers)
