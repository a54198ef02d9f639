"""Abuse limits (sign-in throttling, TEST rate limits, one TEST at a time) and the append-only audit trail."""

import datetime as dt

import pytest
import time_machine
from django.test import Client

from audit.models import AppendOnlyError, AuditEvent
from connections.runs import RunState, TestRun
from tests.helpers import ADMIN_PASSWORD, TEST_SECRET, form_data

pytestmark = pytest.mark.django_db


def within_one_minute():
    """The limits count per minute: keep the clock at the start of one, so no window ends mid-test."""
    now = dt.datetime.now(dt.UTC).replace(second=1, microsecond=0)
    return time_machine.travel(now, tick=False)


def test_sign_in_is_locked_after_five_wrong_passwords(admin_user):
    browser = Client()
    for _ in range(5):
        wrong = browser.post("/accounts/login/", {"username": "admin", "password": "guess"})
        assert wrong.status_code in (200, 429)
    locked = browser.post("/accounts/login/", {"username": "admin", "password": ADMIN_PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert browser.get("/connections/").status_code == 302  # still signed out


def test_a_right_password_resets_the_count(admin_user):
    browser = Client()
    for _ in range(4):
        browser.post("/accounts/login/", {"username": "admin", "password": "guess"})
    assert browser.post("/accounts/login/", {"username": "admin", "password": ADMIN_PASSWORD}).status_code == 302


def test_test_is_rate_limited_per_user(admin_client, make_connection, settings):
    settings.TEST_RATE_PER_USER = 2
    connection = make_connection()
    with within_one_minute():
        answers = [
            admin_client.post(f"/connections/{connection.pk}/test/", HTTP_ACCEPT="application/json") for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "more than 2 TESTs in the last minute" in answers[2].json()["message"]
    assert int(answers[2]["Retry-After"]) > 0


def test_test_is_rate_limited_per_target_host(admin_client, make_connection, settings, user):
    settings.TEST_RATE_PER_HOST = 2
    connection = make_connection(scope="organization")
    other = Client()
    other.force_login(user)
    with within_one_minute():
        statuses = [
            browser.post(f"/connections/{connection.pk}/test/", HTTP_ACCEPT="application/json").status_code
            for browser in (admin_client, other, admin_client)
        ]
    assert statuses == [200, 200, 429]


def test_it_refuses_a_test_it_cannot_count_when_the_cache_is_down(admin_client, make_connection, monkeypatch):
    from django.core.cache import cache
    from redis.exceptions import ConnectionError as RedisConnectionError

    def refused(*args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(cache, "add", refused)  # CACHE_URL's Redis is down (often the queue's Redis too)
    connection = make_connection()
    answer = admin_client.post(f"/connections/{connection.pk}/test/", HTTP_ACCEPT="application/json")
    assert answer.status_code == 503
    assert "the cache that counts TESTs is not reachable (Error 111 connecting to" in answer.json()["message"]
    assert int(answer["Retry-After"]) > 0
    assert not TestRun.objects.exists()
    assert admin_client.get(f"/connections/{connection.pk}/").status_code == 200


def test_a_second_test_while_one_runs_is_refused(admin_client, user, make_connection, tasks_run_inline):
    connection = make_connection(scope="organization")
    tasks_run_inline.immediate = False  # the first click's TEST stays queued: no worker runs here
    try:
        first = admin_client.post(f"/connections/{connection.pk}/test/", HTTP_ACCEPT="application/json")
        assert first.status_code == 200 and first.json()["state"] == "queued"
        other = Client()
        other.force_login(user)
        for browser in (admin_client, other):  # the same person again, or a colleague: one TEST at a time
            answer = browser.post(f"/connections/{connection.pk}/test/", HTTP_ACCEPT="application/json")
            assert answer.status_code == 429
            assert "already running" in answer.json()["message"]
    finally:
        tasks_run_inline.immediate = True
    TestRun.objects.filter(connection=connection).update(state=RunState.FINISHED)  # the first one ended
    assert admin_client.post(f"/connections/{connection.pk}/test/").status_code == 302


def test_the_form_test_is_limited_too_and_keeps_the_typed_values(admin_client, settings):
    settings.TEST_RATE_PER_USER = 0
    response = admin_client.post("/connections/new/", form_data(action="test", name="Kept"))
    assert response.status_code == 429
    assert 'value="Kept"' in response.content.decode()


def test_the_trail_records_who_did_what_without_secrets(admin_client, settings):
    created = admin_client.post("/connections/new/", form_data(name="Audited"))
    pk = int(created["Location"].rstrip("/").split("/")[-1])
    edit = form_data(name="Audited 2", client_secret="another-secret-value-123")
    admin_client.post(f"/connections/{pk}/edit/", edit)
    admin_client.post(f"/connections/{pk}/test/")
    admin_client.post(f"/connections/{pk}/delete/")
    events = list(AuditEvent.objects.order_by("pk"))
    assert [e.action for e in events] == [
        "connection.created",
        "connection.edited",
        "connection.tested",
        "connection.deleted",
    ]
    assert all(e.actor_name == "admin" for e in events)
    assert events[2].outcome == "dns_failed"
    assert "client_secret" in events[1].detail  # which fields changed, never their values
    text = " ".join(f"{e.target_name} {e.outcome} {e.detail}" for e in events)
    assert TEST_SECRET not in text and "another-secret-value-123" not in text


def test_the_trail_is_append_only(admin_client):
    admin_client.post("/connections/new/", form_data(name="Audited"))
    event = AuditEvent.objects.get()
    event.outcome = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update(outcome="x")
    page = admin_client.get(f"/admin/audit/auditevent/{event.pk}/change/").content.decode()
    assert 'name="_save"' not in page and "Delete" not in page


def test_administrators_see_the_trail_and_users_do_not(admin_client, client, user):
    admin_client.post("/connections/new/", form_data(name="Audited"))
    page = admin_client.get("/audit/").content.decode()
    assert "Created a connection" in page and "Audited" in page
    client.force_login(user)
    assert client.get("/audit/").status_code == 403
    assert "Audit trail" not in client.get("/connections/").content.decode()


def test_marketplace_decisions_are_in_the_trail(admin_client, dynamics_crm):
    from marketplace.models import Subscription

    Subscription.objects.all().delete()
    admin_client.post("/marketplace/dynamics-crm/subscribe/")
    admin_client.post("/marketplace/dynamics-crm/unsubscribe/")
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["connector.subscribed", "connector.unsubscribed"]
