"""Every error of the API is an RFC 9457 problem (application/problem+json), whatever its status."""

import logging

import pytest
from django.test import Client

from api import connection_views
from tests.api.conftest import JsonClient, connection_body
from tests.helpers import TEST_SECRET

pytestmark = pytest.mark.django_db
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert PROBLEM_FIELDS <= set(problem) and problem["status"] == status
    assert problem["instance"] == response.request["PATH_INFO"]
    return problem


def test_anonymous_is_401_with_the_bearer_challenge(api):
    response = api["anonymous"].call("GET", "/api/v1/connections/")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_bad_token_is_401(db):
    assert_problem(JsonClient().call("GET", "/api/v1/connections/", authorization="Bearer gathr_nope_nope"), 401)


def test_an_unknown_connection_is_404_and_a_visible_unchangeable_one_403(api, make_connection):
    assert_problem(api["user"].call("GET", "/api/v1/connections/999999/"), 404)
    shared = make_connection(scope="organization")
    tag = api["user"].call("GET", f"/api/v1/connections/{shared.pk}/")["ETag"]
    assert_problem(api["user"].call("PATCH", f"/api/v1/connections/{shared.pk}/", {}, if_match=tag), 403)


def test_a_method_not_allowed_is_405(api):
    response = api["user"].call("DELETE", "/api/v1/connections/")
    assert_problem(response, 405)
    assert "GET" in response["Allow"]


def test_only_json_is_answered_406_and_accepted_415(api):
    assert_problem(api["user"].call("GET", "/api/v1/connections/", accept="text/csv"), 406)
    response = api["user"].post("/api/v1/connections/", "name=x", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415)


def test_malformed_json_is_400(api):
    response = api["user"].post("/api/v1/connections/", "{not json", content_type="application/json")
    assert_problem(response, 400)
    assert_problem(api["user"].call("POST", "/api/v1/connections/", ["a list"]), 400)


def test_changes_need_if_match_428_and_a_stale_one_is_412(api, make_connection):
    connection = make_connection()
    path = f"/api/v1/connections/{connection.pk}/"
    assert_problem(api["admin"].call("PATCH", path, {"name": "x"}), 428)
    assert_problem(api["admin"].call("DELETE", path, if_match='"stale"'), 412)


def test_csrf_is_enforced_for_the_browser_s_session(admin_user, make_connection):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    response = browser.post("/api/v1/connections/", "{}", content_type="application/json")
    problem = assert_problem(response, 403)
    assert "CSRF" in problem["detail"]


def test_an_internal_error_is_500_with_an_incident_id_and_no_traceback_nor_secret(api, monkeypatch, caplog):
    def broken(user, params):
        raise RuntimeError(f"boom {TEST_SECRET}")

    monkeypatch.setattr(connection_views, "filtered", broken)
    with caplog.at_level(logging.ERROR):
        response = api["user"].call("GET", "/api/v1/connections/")
    problem = assert_problem(response, 500)
    assert "incident" in problem["detail"]
    body = response.content.decode()
    assert "Traceback" not in body and "boom" not in body and TEST_SECRET not in body
    assert TEST_SECRET not in caplog.text and "RuntimeError" in caplog.text


def test_a_database_outage_is_503(api, monkeypatch):
    from django.db import OperationalError

    def down(user, params):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection_views, "filtered", down)
    response = api["user"].call("GET", "/api/v1/connections/")
    assert_problem(response, 503)
    assert response["Retry-After"]


def test_validation_problems_name_each_field(api):
    problem = assert_problem(api["user"].call("POST", "/api/v1/connections/", connection_body(url="", name="")), 400)
    assert {"url", "name"} <= set(problem["errors"])
