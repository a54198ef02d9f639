"""TESTs in the background: the POST answers at once, the page follows the TEST, the typed secret travels
encrypted and is deleted, only its starter reads it, and a TEST never hangs in "queued" or "running"."""

import datetime as dt
import socket
import uuid

import pytest
import time_machine
from django.test import Client
from huey.contrib.djhuey import HUEY
from huey.storage import RedisStorage

from audit.models import Action, AuditEvent
from connections import background, crypto
from connections.models import Connection
from connections.runs import RunState, TestRun
from tests.helpers import form_data
from tests.test_connection_test import good


@pytest.fixture
def queue(tmp_path, tasks_run_inline):
    """A real queue (a SQLite file of its own) that no worker reads: queued TESTs stay queued."""
    kept = dict(HUEY.storage_kwargs)
    HUEY.storage_kwargs = {**kept, "filename": str(tmp_path / "tasks.sqlite3")}
    HUEY.immediate = False
    yield tmp_path / "tasks.sqlite3"
    HUEY.immediate = True
    HUEY.storage_kwargs = kept


def post_test(client, microsoft, **overrides):
    data = form_data(action="test", **good(microsoft, **overrides))
    return client.post("/connections/new/", data, HTTP_ACCEPT="application/json")


def work_off_the_queue():
    """What a worker does: take each queued task and run it (here, inside the test's database transaction)."""
    while (task := HUEY.dequeue()) is not None:
        assert task.name.endswith("run_test")
        background.run_test.call_local(*task.args)


def test_it_answers_at_once_with_the_queued_test_and_runs_nothing_in_the_request(admin_client, microsoft, queue):
    answer = post_test(admin_client, microsoft).json()
    assert (answer["state"], answer["done"], answer["ok"]) == ("queued", False, None)
    assert answer["status_url"] == f"/connections/tests/{answer['id']}/"
    assert "Queued: next in line." in answer["html"]
    assert answer["html"].count("Waiting") == 5 and "Failed" not in answer["html"]
    assert microsoft.sim.requests == []  # nothing was sent to Microsoft by the web request


def test_the_page_follows_the_test_until_its_result(admin_client, microsoft, queue):
    answer = post_test(admin_client, microsoft).json()
    work_off_the_queue()
    done = admin_client.get(answer["status_url"], HTTP_ACCEPT="application/json").json()
    assert done["done"] is True and done["ok"] is True
    assert done["message"].startswith("Connection available")
    assert "Token from Entra ID" in done["html"] and "Dataverse WhoAmI" in done["html"]


def test_a_queued_test_says_how_many_are_ahead(admin_client, microsoft, queue, make_connection):
    for index in range(3):
        saved = make_connection(name=f"Ahead {index}")
        assert admin_client.post(f"/connections/{saved.pk}/test/", HTTP_ACCEPT="application/json").status_code == 200
    answer = post_test(admin_client, microsoft).json()
    assert answer["position"] == 3
    assert "Queued: 3 TESTs ahead." in answer["html"]


def test_the_typed_secret_travels_encrypted_and_is_deleted_when_the_test_ends(admin_client, microsoft, queue):
    secret = microsoft.secret.value
    answer = post_test(admin_client, microsoft).json()
    run = TestRun.objects.get(pk=answer["id"])
    assert secret not in run.payload_encrypted and secret in crypto.decrypt(run.payload_encrypted)
    assert secret.encode() not in queue.read_bytes()  # the queue holds the TEST's id only
    work_off_the_queue()
    run.refresh_from_db()
    assert run.payload_encrypted == ""
    assert secret not in str(run.result) and secret not in str(run.steps) and secret not in str(run.form_values)


def test_only_the_user_who_started_a_test_may_read_it(admin_client, microsoft, queue, user):
    answer = post_test(admin_client, microsoft).json()
    other = Client()
    other.force_login(user)
    assert other.get(answer["status_url"], HTTP_ACCEPT="application/json").status_code == 404
    assert other.get(answer["status_url"]).status_code == 404
    assert admin_client.get(answer["status_url"]).status_code == 200


def test_a_test_taken_after_its_budget_could_not_start_in_time(admin_client, microsoft, queue, settings):
    answer = post_test(admin_client, microsoft).json()
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.TEST_TOTAL_TIMEOUT + 1)):
        work_off_the_queue()
    done = admin_client.get(answer["status_url"], HTTP_ACCEPT="application/json").json()
    assert done["done"] is True and done["ok"] is False
    assert "the TEST could not start in time" in done["message"]
    assert microsoft.sim.requests == []


@pytest.mark.parametrize(
    ("state", "says"), [("running", "worker running the TEST stopped"), ("queued", "could not start")]
)
def test_a_test_whose_worker_died_ends_as_failed_never_running_for_ever(state, says, admin_client, microsoft, queue):
    answer = post_test(admin_client, microsoft).json()
    TestRun.objects.filter(pk=answer["id"]).update(state=state)  # a worker took it, then was killed
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    with time_machine.travel(later):
        done = admin_client.get(answer["status_url"], HTTP_ACCEPT="application/json").json()
    assert done["done"] is True and done["ok"] is False and says in done["message"]
    assert TestRun.objects.get(pk=answer["id"]).payload_encrypted == ""


def test_the_sweeper_ends_stale_tests_nobody_reads(admin_client, microsoft, queue):
    answer = post_test(admin_client, microsoft).json()
    TestRun.objects.filter(pk=answer["id"]).update(state=RunState.RUNNING)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)):
        background.end_stale_tests.call_local()
    assert TestRun.objects.get(pk=answer["id"]).state == RunState.FINISHED


def test_a_queued_test_of_a_deleted_connection_is_dropped(admin_client, microsoft, queue, make_connection):
    saved = make_connection(**{key: value for key, value in good(microsoft).items()})
    answer = admin_client.post(f"/connections/{saved.pk}/test/", HTTP_ACCEPT="application/json").json()
    admin_client.post(f"/connections/{saved.pk}/delete/")
    work_off_the_queue()
    assert not TestRun.objects.filter(pk=answer["id"]).exists()
    assert microsoft.sim.requests == []


def test_without_javascript_the_test_page_refreshes_until_the_form_comes_back(admin_client, microsoft, queue):
    data = form_data(action="test", name="Typed by hand", **good(microsoft))
    response = admin_client.post("/connections/new/", data)
    assert response.status_code == 302
    page = admin_client.get(response["Location"]).content.decode()
    assert '<meta http-equiv="refresh" content="1">' in page and "Queued" in page
    work_off_the_queue()
    page = admin_client.get(response["Location"]).content.decode()
    assert 'value="Typed by hand"' in page and "Connection available" in page
    assert microsoft.secret.value not in page
    assert 'action="/connections/new/"' in page  # CREATE from here creates the connection


def test_when_the_queue_is_down_test_says_it_cannot_start_and_the_pages_answer(admin_client, microsoft, queue):
    with socket.socket() as closed:  # a port nothing listens on: Redis is down
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    HUEY.storage = RedisStorage(HUEY.name, url=f"redis://127.0.0.1:{port}/0?socket_connect_timeout=1")
    answer = post_test(admin_client, microsoft)
    assert answer.status_code == 503
    assert "task queue is not reachable" in answer.json()["message"]
    assert not TestRun.objects.exists()
    assert admin_client.get("/connections/").status_code == 200


def test_a_saved_test_records_its_result_on_the_connection(admin_client, microsoft, queue, make_connection):
    saved = make_connection(**good(microsoft))
    answer = admin_client.post(f"/connections/{saved.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert Connection.objects.get(pk=saved.pk).last_test_status == ""
    work_off_the_queue()
    done = admin_client.get(answer["status_url"], HTTP_ACCEPT="application/json").json()
    assert done["ok"] is True and "Available" in done["last_test_html"]
    assert Connection.objects.get(pk=saved.pk).last_test_status == "available"


def test_an_unknown_test_id_is_404(admin_client):
    assert admin_client.get(f"/connections/tests/{uuid.uuid4()}/").status_code == 404


def test_the_connections_list_test_without_javascript_comes_back_to_the_list(
    admin_client, microsoft, queue, make_connection
):
    saved = make_connection(**good(microsoft))
    response = admin_client.post(f"/connections/{saved.pk}/test/", {"source": "list", "next": "/connections/?q=Con"})
    assert response.status_code == 302 and response["Location"].startswith("/connections/tests/")
    work_off_the_queue()
    back = admin_client.get(response["Location"], follow=True)
    assert back.redirect_chain[-1][0] == "/connections/"
    assert "Connection available" in back.content.decode()


def test_the_admin_action_queues_a_test_of_each_selected_connection(admin_client, microsoft, queue, make_connection):
    first, second = make_connection(name="First", **good(microsoft)), make_connection(name="Second", **good(microsoft))
    data = {"action": "test_selected", "_selected_action": [first.pk, second.pk]}
    page = admin_client.post("/admin/connections/connection/", data, follow=True).content.decode()
    assert "TEST queued for" in page and "First" in page and "Second" in page
    assert TestRun.objects.filter(source="admin", state=RunState.QUEUED).count() == 2
    work_off_the_queue()
    assert set(Connection.objects.values_list("last_test_status", flat=True)) == {"available"}


def test_a_test_whose_worker_died_is_recorded_on_the_connection_and_audited(
    admin_client, microsoft, queue, make_connection
):
    saved = make_connection(**good(microsoft))
    answer = admin_client.post(f"/connections/{saved.pk}/test/", HTTP_ACCEPT="application/json").json()
    TestRun.objects.filter(pk=answer["id"]).update(state=RunState.RUNNING)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)):
        background.end_stale_tests.call_local()
        background.end_stale_tests.call_local()  # a second sweep (another worker) records nothing more
    saved.refresh_from_db()
    assert saved.last_test_status == "unavailable" and "worker running the TEST stopped" in saved.last_test_message
    events = AuditEvent.objects.filter(action=Action.CONNECTION_TESTED, target_id=str(saved.pk))
    assert list(events.values_list("outcome", flat=True)) == ["worker_stopped"]
