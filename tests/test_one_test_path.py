"""One path for every TEST: the use case the views, the admin and the command share, honest internal errors,
and the admin form's rules being the connection form's."""

import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from audit.models import Action, AuditEvent
from connections.dynamics import dataverse
from connections.models import AuthScheme, Connection, CrmVersion
from tests.helpers import TEST_SECRET
from tests.test_admin_forms import admin_post
from tests.test_connection_test import good, run_test


def test_it_reports_a_bug_as_an_internal_error_with_an_id_that_finds_the_log_line(
    admin_client, microsoft, monkeypatch, all_logs
):
    def buggy_who_am_i(url, token):
        return {}["UserId"]  # our own bug, not a network failure

    monkeypatch.setattr(dataverse, "who_am_i", buggy_who_am_i)
    answer = run_test(admin_client, **good(microsoft))
    assert answer["ok"] is False
    assert answer["message"].startswith("Connection unavailable: Dataverse WhoAmI failed. An internal error")
    assert "KeyError" not in answer["message"] and "network" not in answer["message"].lower()
    incident = re.search(r"incident ([0-9a-f]{12})", answer["message"]).group(1)
    logged = [r for r in all_logs if incident in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelname == "ERROR"
    assert "Traceback" in logged[0].getMessage() and "KeyError: 'UserId'" in logged[0].getMessage()
    assert microsoft.secret.value not in logged[0].getMessage()


def test_it_scrubs_the_connection_secret_from_the_logged_traceback(admin_client, microsoft, monkeypatch, all_logs):
    secret = microsoft.secret.value

    def leaky_bug(url, token):
        raise ValueError(f"unexpected {secret}")

    monkeypatch.setattr(dataverse, "who_am_i", leaky_bug)
    answer = run_test(admin_client, **good(microsoft))
    assert "internal error" in answer["message"]
    text = "\n".join(record.getMessage() for record in all_logs)
    assert "unexpected [secret]" in text and secret not in text


def test_the_command_records_the_test_in_the_audit_trail(microsoft, make_connection):
    connection = make_connection(**good_connection(microsoft))
    call_command("test_connection", connection.name)
    event = AuditEvent.objects.get(action=Action.CONNECTION_TESTED)
    assert (event.target_name, event.actor_name, event.outcome) == (connection.name, "system", "available")
    assert Connection.objects.get(pk=connection.pk).last_test_status == "available"


@pytest.mark.no_entitlement
def test_the_command_refuses_without_a_trial_or_subscription_and_records_nothing(microsoft, make_connection, capsys):
    connection = make_connection(**good_connection(microsoft))
    with pytest.raises(SystemExit) as stopped:
        call_command("test_connection", connection.name)
    assert stopped.value.code == 1
    assert "needs an active trial or subscription" in capsys.readouterr().err
    assert microsoft.sim.requests == []
    assert not AuditEvent.objects.filter(action=Action.CONNECTION_TESTED).exists()


def test_the_admin_drops_the_client_secret_of_a_connection_that_became_ntlm(admin_client, make_connection):
    connection = make_connection(name="Moves on premises")
    assert connection.has_client_secret
    changes = {
        "crm_version": CrmVersion.CRM_2011,
        "auth_scheme": AuthScheme.NTLM,
        "url": "http://crm.contoso.local/Contoso/",
        "azure_tenant": "",
        "client_id": "",
        "windows_user": "CONTOSO\\maria",
        "windows_password": "Windows password 1",
    }
    response = admin_client.post(
        reverse("admin:connections_connection_change", args=[connection.pk]), admin_post(connection, **changes)
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    moved = Connection.objects.get(pk=connection.pk)
    assert (moved.client_secret_encrypted, moved.azure_tenant, moved.client_id) == ("", "", "")
    assert moved.get_windows_password() == "Windows password 1"


def test_the_form_drops_the_stored_sign_in_of_a_connection_that_leaves_azure_ad(admin_client, make_connection):
    connection = make_connection(name="Was delegated", auth_scheme=AuthScheme.AZURE_AD)
    connection.token_cache_encrypted = "ciphertext of a token cache"
    connection.signed_in_username = "maria@contoso.com"
    connection.save()
    data = {**admin_post(connection), "auth_scheme": AuthScheme.SERVICE_PRINCIPAL, "action": "save"}
    response = admin_client.post(reverse("connections:edit", args=[connection.pk]), data)
    assert response.status_code == 302
    left = Connection.objects.get(pk=connection.pk)
    assert (left.token_cache_encrypted, left.signed_in_username) == ("", "")
    assert left.get_client_secret() == TEST_SECRET


def test_the_admin_normalises_like_the_form(admin_client, make_connection):
    connection = make_connection(name="Braces")
    changes = {"client_id": "{ABCDEF01-2345-6789-ABCD-EF0123456789}", "url": "https://Contoso.CRM.dynamics.com"}
    admin_client.post(
        reverse("admin:connections_connection_change", args=[connection.pk]), admin_post(connection, **changes)
    )
    saved = Connection.objects.get(pk=connection.pk)
    assert (saved.client_id, saved.url) == ("abcdef01-2345-6789-abcd-ef0123456789", "https://contoso.crm.dynamics.com/")


def good_connection(microsoft) -> dict:
    values = good(microsoft)
    return {
        "client_id": values["client_id"],
        "client_secret": values["client_secret"],
        "azure_tenant": values["azure_tenant"],
        "url": values["url"],
    }
