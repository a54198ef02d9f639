"""Check access: after a good TEST, which tables the principal can read, the missing privilege and where to grant
it, kept with the connection and shown on its page; with TEST's access rules, gate, rate limits and audit."""

import pytest
from django.test import Client

from audit.models import Action, AuditEvent
from connections.access_checks import AccessCheck
from connections.models import Connection
from connections.runs import RunState
from tests.simulator.conftest import ENV_URL


@pytest.fixture
def tested(microsoft, make_connection, admin_client):
    """A saved connection to the simulator's environment whose TEST passed."""
    connection = make_connection(
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        client_secret=microsoft.secret.value,
    )
    answer = admin_client.post(f"/connections/{connection.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert answer["ok"] is True, answer["message"]
    microsoft.saved = connection
    return microsoft


def check(client: Client, connection: Connection, tables: str = "") -> dict:
    answer = client.post(f"/connections/{connection.pk}/access/", {"tables": tables}, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200, answer.content
    return answer.json()


def latest(connection: Connection) -> dict:
    return AccessCheck.objects.latest_finished(connection).result


def read(result: dict, name: str) -> dict:
    return next(table for table in result["reads"] if table["logical_name"] == name)


def test_it_lists_the_readable_tables_and_the_common_ones_read(admin_client, tested):
    answer = check(admin_client, tested.saved)
    assert answer["done"] is True and answer["ok"] is True
    result = latest(tested.saved)
    assert [t["logical_name"] for t in result["reads"]] == ["account", "contact", "lead", "opportunity", "systemuser"]
    assert all(t["readable"] is True for t in result["reads"])
    account = read(result, "account")
    assert (account["privilege"], account["depth"], account["entity_set"]) == ("prvReadAccount", "Global", "accounts")
    assert account["display_name"] == "Account"
    assert result["principal"] == {"user_id": tested.app_user.user_id, "kind": "application user"}
    listed = {t["logical_name"]: t for t in result["tables"]}
    assert listed["incident"]["readable"] is True
    assert (listed["systemuser"]["privilege"], listed["systemuser"]["readable"]) == ("prvReadUser", True)
    assert "5 of the 5 tables read" in result["message"] and "public tables readable" in result["message"]
    assert "5 of the 5 tables read" in answer["html"]


def test_a_table_without_its_privilege_names_it_and_where_to_grant_it(admin_client, tested):
    tested.sim.define_role(ENV_URL, "Accounts only", {"prvReadAccount": "Local"})
    tested.sim.set_roles(ENV_URL, tested.app_user, "Accounts only")
    check(admin_client, tested.saved)
    result = latest(tested.saved)
    assert read(result, "account")["readable"] is True and read(result, "account")["depth"] == "Local"
    contact = read(result, "contact")
    assert contact["readable"] is False and contact["code"] == "0x80040220"
    assert contact["privilege"] == "prvReadContact"
    assert "Missing prvReadContact" in contact["message"]
    assert "Settings > Users + permissions > Security roles" in contact["hint"]
    assert "1 of the 5 tables read" in result["message"]
    page = admin_client.get(f"/connections/{tested.saved.pk}/").content.decode()
    assert "Missing prvReadContact" in page and "Security roles" in page and "1 of the 5 tables read" in page


def test_a_named_table_is_read_and_an_unknown_one_is_reported(admin_client, tested):
    tested.sim.add_table(ENV_URL, "new_project", columns=[("new_name", "String")], rows=[{"new_name": "Apollo"}])
    check(admin_client, tested.saved, "new_project, new_nothing")
    result = latest(tested.saved)
    project = read(result, "new_project")
    assert project["readable"] is False and project["privilege"] == "prvReadnew_project"
    missing = read(result, "new_nothing")
    assert missing["readable"] is False and missing["code"] == "0x80040217"
    assert "No table named new_nothing exists" in missing["message"]
    assert AccessCheck.objects.latest_finished(tested.saved).named_tables == ["new_project", "new_nothing"]


def test_it_rejects_bad_table_names_next_to_the_field(admin_client, tested):
    answer = admin_client.post(
        f"/connections/{tested.saved.pk}/access/", {"tables": "Account; drop"}, HTTP_ACCEPT="application/json"
    )
    assert answer.status_code == 400 and "logical name" in answer.json()["errors"]["tables"][0]["message"]
    too_many = " ".join(f"new_t{index}" for index in range(21))
    page = admin_client.post(f"/connections/{tested.saved.pk}/access/", {"tables": too_many})
    assert page.status_code == 400 and "Name at most 20 tables; you named 21." in page.content.decode()
    assert not AccessCheck.objects.exists()


def test_it_requires_a_good_test_first(admin_client, microsoft, make_connection):
    untested = make_connection(url=microsoft.env.url)
    page = admin_client.get(f"/connections/{untested.pk}/").content.decode()
    assert "TEST the connection first" in page and "data-access-form" not in page
    answer = admin_client.post(f"/connections/{untested.pk}/access/", HTTP_ACCEPT="application/json")
    assert answer.status_code == 409 and "TEST the connection first" in answer.json()["message"]


def test_the_audit_event_names_the_tables_never_the_data(admin_client, tested):
    tested.sim.add_rows(ENV_URL, "account", {"name": "Secret Corp"})
    check(admin_client, tested.saved, "incident")
    event = AuditEvent.objects.get(action=Action.ACCESS_CHECKED)
    assert event.detail == "account, contact, lead, opportunity, systemuser, incident"
    assert event.outcome == "ok" and event.target_id == str(tested.saved.pk)
    stored = str(AccessCheck.objects.get().result)
    assert "Secret Corp" not in stored and "Litware" not in stored


def test_the_result_is_kept_and_shown_on_the_page_without_javascript(admin_client, tested):
    answer = admin_client.post(f"/connections/{tested.saved.pk}/access/", {"tables": ""})
    assert answer.status_code == 302 and answer["Location"] == f"/connections/{tested.saved.pk}/#access"
    page = admin_client.get(answer["Location"]).content.decode()
    assert 'id="access"' in page and "5 of the 5 tables read" in page and "All " in page


def test_one_check_at_a_time_per_connection(admin_client, tested):
    running = AccessCheck.new(tested.saved, None, [], [])
    running.state = RunState.RUNNING
    running.save()
    answer = admin_client.post(f"/connections/{tested.saved.pk}/access/", HTTP_ACCEPT="application/json")
    assert answer.status_code == 429 and "already running" in answer.json()["message"]
    page = admin_client.get(f"/connections/{tested.saved.pk}/").content.decode()
    assert "Checking access" in page


def test_a_plain_user_cannot_see_a_private_connections_access(client, user, tested):
    client.force_login(user)
    assert client.post(f"/connections/{tested.saved.pk}/access/").status_code == 404
    admin = Client()
    admin.force_login(tested.saved.owner)
    run_id = check(admin, tested.saved)["id"]
    assert client.get(f"/connections/access/{run_id}/", HTTP_ACCEPT="application/json").status_code == 404
    assert admin.get(f"/connections/access/{run_id}/", HTTP_ACCEPT="application/json").json()["done"] is True


def test_it_refuses_without_the_connector(admin_client, tested, settings):
    from marketplace.models import Subscription

    Subscription.objects.all().delete()
    answer = admin_client.post(f"/connections/{tested.saved.pk}/access/", HTTP_ACCEPT="application/json")
    assert answer.status_code == 403
    assert not AccessCheck.objects.exists()


def test_it_is_rate_limited_like_test(admin_client, tested, settings):
    settings.TEST_RATE_PER_USER = 1  # the TEST of the fixture used it
    answer = admin_client.post(f"/connections/{tested.saved.pk}/access/", HTTP_ACCEPT="application/json")
    assert answer.status_code == 429 and "in the last minute" in answer.json()["message"]


def test_it_needs_the_csrf_token(tested):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(tested.saved.owner)
    assert browser.post(f"/connections/{tested.saved.pk}/access/").status_code == 403


def test_whoever_may_test_an_organization_connection_may_check_it_unless_the_gate_is_closed(client, user, tested):
    Connection.objects.filter(pk=tested.saved.pk).update(scope="organization")
    client.force_login(user)
    answer = check(client, tested.saved)
    assert answer["ok"] is True
    assert AuditEvent.objects.get(action=Action.ACCESS_CHECKED).actor == user
    from marketplace.models import Subscription

    Subscription.objects.all().delete()
    refused = client.post(f"/connections/{tested.saved.pk}/access/", HTTP_ACCEPT="application/json")
    assert refused.status_code == 403 and AccessCheck.objects.count() == 1


def test_the_connection_keeps_its_latest_check(admin_client, tested):
    check(admin_client, tested.saved)
    check(admin_client, tested.saved, "incident")
    kept = AccessCheck.objects.get()
    assert kept.named_tables == ["incident"]


def test_without_javascript_a_queued_check_has_a_page_that_refreshes_until_its_result(admin_client, tested, tmp_path):
    from huey.contrib.djhuey import HUEY

    from connections import access_background

    kept = dict(HUEY.storage_kwargs)
    HUEY.storage_kwargs, HUEY.immediate = {**kept, "filename": str(tmp_path / "tasks.sqlite3")}, False
    try:
        started = admin_client.post(f"/connections/{tested.saved.pk}/access/", {"tables": ""})
        assert started.status_code == 302 and started["Location"].startswith("/connections/access/")
        waiting = admin_client.get(started["Location"])
        assert '<meta http-equiv="refresh" content="1">' in waiting.content.decode()
        assert "Queued" in waiting.content.decode()
        while (task := HUEY.dequeue()) is not None:
            access_background.run_access_check.call_local(*task.args)
    finally:
        HUEY.storage_kwargs, HUEY.immediate = kept, True
    done = admin_client.get(started["Location"])
    assert done.status_code == 302 and done["Location"] == f"/connections/{tested.saved.pk}/#access"
