"""TESTs through the API, against the simulator: of a saved connection and of unsaved values, from start to result,
with the pages' rules (its starter only, the Premium gate, rate limits, one at a time, the queue down)."""

import pytest

from connections import background
from connections.models import Connection
from tests.api.conftest import connection_body
from tests.test_background import queue  # noqa: F401 - a real queue no worker reads
from tests.test_connection_test import good

pytestmark = pytest.mark.django_db
STEP_FIELDS = {"key", "label", "status", "elapsed", "detail"}
RESULT_FIELDS = {"ok", "step", "code", "message", "hint", "details", "elapsed", "steps"}


def create(client, microsoft, **overrides) -> Connection:
    response = client.call("POST", "/api/v1/connections/", connection_body(**good(microsoft, **overrides)))
    assert response.status_code == 201, response.content
    return Connection.objects.get(pk=response.json()["id"])


def follow(client, started) -> dict:
    assert started.status_code == 202, started.content
    location = started["Location"]
    assert "/api/v1/tests/" in location
    response = client.call("GET", location)
    assert response.status_code == 200
    return response.json()


def test_a_saved_connection_is_tested_from_start_to_result(api, microsoft):
    connection = create(api["user"], microsoft)
    run = follow(api["user"], api["user"].call("POST", f"/api/v1/connections/{connection.pk}/tests/"))
    assert run["done"] is True and run["ok"] is True, run
    assert RESULT_FIELDS <= set(run) and run["connection"] == connection.pk
    assert all(set(step) == STEP_FIELDS for step in run["steps"]) and run["steps"]
    assert "failed" not in {step["status"] for step in run["steps"]}
    connection.refresh_from_db()
    assert connection.health == "up"
    history = api["user"].call("GET", f"/api/v1/connections/{connection.pk}/history/").json()
    assert history["count"] == 1 and history["results"][0]["ok"] is True
    assert history["results"][0]["source"] == "REST API"


def test_an_unsaved_connection_is_tested_with_the_page_s_result_object(api, microsoft, all_logs):
    started = api["user"].call("POST", "/api/v1/tests/", connection_body(**good(microsoft, client_secret="wrong")))
    run = follow(api["user"], started)
    assert run["ok"] is False and run["code"] and run["message"].startswith("Connection unavailable"), run
    assert run["hint"] and run["step"] and run["connection"] is None
    assert not Connection.objects.exists()
    for record in all_logs:
        assert microsoft.secret.value not in record.getMessage()


def test_only_its_starter_reads_a_test(api, microsoft):
    started = api["user"].call("POST", "/api/v1/tests/", connection_body(**good(microsoft)))
    assert started.status_code == 202
    for role in ("other", "admin"):
        response = api[role].call("GET", started["Location"])
        assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"


def test_an_unsaved_test_is_validated_by_the_form(api, microsoft):
    problem = api["user"].call("POST", "/api/v1/tests/", connection_body(client_id="")).json()
    assert problem["status"] == 400 and "Enter the Client ID" in problem["errors"]["client_id"][0]


def test_create_after_the_same_values_were_tested_adopts_the_test(api, microsoft):
    follow(api["user"], api["user"].call("POST", "/api/v1/tests/", connection_body(**good(microsoft))))
    connection = create(api["user"], microsoft)
    assert connection.last_test_status == "available"


@pytest.mark.no_entitlement
def test_the_premium_gate_refuses_a_test_and_a_create(api, make_connection):
    connection = make_connection(scope="organization")
    for path, body in ((f"/api/v1/connections/{connection.pk}/tests/", None), ("/api/v1/connections/", {})):
        response = api["user"].call("POST", path, body)
        assert response.status_code == 403, path
        assert "needs an active trial or subscription" in response.json()["detail"]


def test_rate_limits_answer_429_with_retry_after(api, microsoft, settings):
    settings.TEST_RATE_PER_USER = 1
    connection = create(api["user"], microsoft)
    path = f"/api/v1/connections/{connection.pk}/tests/"
    assert api["user"].call("POST", path).status_code == 202
    refused = api["user"].call("POST", path)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused.json()["type"].endswith("rate-limited")


def test_one_test_at_a_time_per_connection(api, microsoft, queue):  # noqa: F811
    connection = create(api["user"], microsoft)
    path = f"/api/v1/connections/{connection.pk}/tests/"
    first = api["user"].call("POST", path)
    assert first.status_code == 202 and first.json()["state"] == "queued"
    refused = api["user"].call("POST", path)
    assert refused.status_code == 409 and "already running" in refused.json()["detail"]


def test_the_queue_down_is_503(api, microsoft, monkeypatch):
    connection = create(api["user"], microsoft)

    def refuse(run_id):
        raise OSError("unable to open database file")

    monkeypatch.setattr(background, "run_test", refuse)
    refused = api["user"].call("POST", f"/api/v1/connections/{connection.pk}/tests/")
    assert refused.status_code == 503 and refused["Retry-After"]
    assert refused.json()["type"].endswith("queue-unavailable")


def test_check_access_after_a_good_test(api, microsoft):
    connection = create(api["user"], microsoft)
    path = f"/api/v1/connections/{connection.pk}/access-check/"
    assert api["user"].call("GET", path).status_code == 404
    assert api["user"].call("POST", path, {"tables": ""}).status_code == 409  # TEST first
    follow(api["user"], api["user"].call("POST", f"/api/v1/connections/{connection.pk}/tests/"))
    started = api["user"].call("POST", path, {"tables": "account"})
    assert started.status_code == 202, started.content
    check = api["user"].call("GET", started["Location"]).json()
    assert check["done"] is True and check["result"] is not None and check["named_tables"] == ["account"]
    bad = api["user"].call("POST", path, {"tables": "Not A Table"}).json()
    assert bad["status"] == 400 and "logical name" in bad["errors"]["tables"][0]
