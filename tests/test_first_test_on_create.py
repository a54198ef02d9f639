"""A TEST on the New connection form followed by CREATE with the same values is the new connection's first TEST;
other values, another user's TEST or a TEST long ago leave it "Never tested"."""

import datetime as dt

import pytest
import time_machine

from connections.models import Connection
from connections.runs import RunSource, TestRun
from tests.helpers import form_data
from tests.test_connection_test import good


def form_tested(client, microsoft, **overrides) -> dict:
    data = form_data(action="test", **good(microsoft, **overrides))
    answer = client.post("/connections/new/", data, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200
    return answer.json()


def create(client, microsoft, **overrides) -> Connection:
    response = client.post("/connections/new/", form_data(action="create", **good(microsoft, **overrides)))
    assert response.status_code == 302
    return Connection.objects.get(name="Contoso Sales")


def test_the_tested_values_created_count_as_the_connection_s_first_test(admin_client, microsoft):
    answer = form_tested(admin_client, microsoft)
    assert answer["ok"] is True
    connection = create(admin_client, microsoft)
    assert connection.last_test_status == "available"
    assert connection.last_test_message.startswith("Connection available")
    assert [step["label"] for step in connection.last_test_steps][:2] == ["Outbound check", "Token from Entra ID"]
    run = TestRun.objects.get(pk=answer["id"])
    assert (run.connection, run.source) == (connection, RunSource.FORM)
    content = admin_client.get(f"/connections/{connection.pk}/").content.decode()
    assert "100% available</strong> (1 of 1 TESTs good)" in content
    assert 'admin <span class="text-body-secondary">(Connection form)</span>' in content


def test_a_failed_form_test_counts_too(admin_client, microsoft):
    form_tested(admin_client, microsoft, client_secret="wrong-secret-value-0123456789")
    connection = create(admin_client, microsoft, client_secret="wrong-secret-value-0123456789")
    assert connection.last_test_status == "unavailable"


def test_the_row_keeps_a_keyed_hash_of_the_values_never_the_secret(admin_client, microsoft):
    answer = form_tested(admin_client, microsoft)
    kept = str(TestRun.objects.filter(pk=answer["id"]).values().get())
    run = TestRun.objects.get(pk=answer["id"])
    assert len(run.fingerprint) == 64 and microsoft.secret.value not in kept


@pytest.mark.parametrize(
    "changed",
    [
        {"client_secret": "another-secret-value-0123456789"},
        {"url": "https://fabrikam.crm.dynamics.com/"},
        {"client_id": "99999999-2222-3333-4444-555555555555"},
    ],
    ids=["another secret", "another URL", "another Client ID"],
)
def test_other_values_leave_the_new_connection_never_tested(admin_client, microsoft, changed):
    form_tested(admin_client, microsoft)
    connection = create(admin_client, microsoft, **changed)
    assert connection.last_test_status == "" and connection.last_tested_at is None
    assert not TestRun.objects.filter(connection=connection).exists()


def test_another_user_s_test_never_counts(clients, microsoft):
    form_tested(clients["user"], microsoft)
    connection = create(clients["admin"], microsoft)
    assert connection.get_last_test_status_display() == "Never tested"


def test_a_test_more_than_15_minutes_old_does_not_count(admin_client, microsoft):
    with time_machine.travel(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)):
        form_tested(admin_client, microsoft)
    connection = create(admin_client, microsoft)
    assert connection.last_test_status == ""


def test_only_the_latest_form_test_counts(admin_client, microsoft):
    form_tested(admin_client, microsoft)
    form_tested(admin_client, microsoft, client_secret="another-secret-value-0123456789")
    connection = create(admin_client, microsoft)
    assert connection.last_test_status == ""


def test_a_test_is_adopted_once(admin_client, microsoft):
    form_tested(admin_client, microsoft)
    first = create(admin_client, microsoft)
    first.delete()
    second = create(admin_client, microsoft)  # the run went with the first connection
    assert second.last_test_status == ""


def certificate_post(client, microsoft, action: str, bundle):
    from tests.test_connection_test_paths import pem_upload

    data = form_data(
        action=action,
        client_id=microsoft.app.client_id,
        client_secret="",
        azure_tenant=microsoft.tenant.tenant_id,
        credential_type="certificate",
    )
    data["certificate"] = pem_upload(bundle.key_pem + bundle.cert_pem)
    return client.post("/connections/new/", data, HTTP_ACCEPT="application/json" if action == "test" else "")


def test_the_same_certificate_counts_and_another_does_not(admin_client, microsoft):
    from tests.simulator import make_certificate

    tested, other = make_certificate("gathr-connector"), make_certificate("gathr-connector")
    microsoft.sim.add_certificate(microsoft.app.client_id, tested.cert_pem)
    assert certificate_post(admin_client, microsoft, "test", tested).json()["ok"] is True
    assert certificate_post(admin_client, microsoft, "create", tested).status_code == 302
    assert Connection.objects.get().last_test_status == "available"
    Connection.objects.all().delete()
    certificate_post(admin_client, microsoft, "test", tested)
    assert certificate_post(admin_client, microsoft, "create", other).status_code == 302
    assert Connection.objects.get().last_test_status == ""
