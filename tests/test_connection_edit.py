"""Edit a saved connection: every field, the write-only Client Secret, and edits that must not stick."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from connections import azure_ad
from connections.dynamics import check
from connections.forms import ConnectionForm
from connections.models import Connection, TestStatus
from tests.helpers import TEST_SECRET, field_error, form_data

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

NEW_SECRET = "Xy9R~replaced-secret-value-0a1b2c3d4e5f6a7b8c9d"
CALLBACK = "http://testserver/connections/oauth/callback/"


def edit_url(connection) -> str:
    return reverse("connections:edit", args=[connection.pk])


def edit_post(**overrides) -> dict:
    return form_data(**{"client_secret": "", "action": "save", **overrides})


def input_tag(page: str, name: str) -> str:
    return re.search(rf'<(?:input|select)[^>]*name="{name}"[^>]*>', page).group(0)


@pytest.fixture
def saved(make_connection):
    return make_connection(
        name="Contoso Sales",
        client_id="11111111-2222-3333-4444-555555555555",
        url="https://contoso.crm.dynamics.com/",
        azure_tenant="contoso.onmicrosoft.com",
    )


def test_it_shows_the_saved_values_in_every_field(admin_client, saved):
    page = admin_client.get(edit_url(saved)).content.decode()
    assert 'value="Contoso Sales"' in input_tag(page, "name")
    assert 'value="11111111-2222-3333-4444-555555555555"' in input_tag(page, "client_id")
    assert 'value="https://contoso.crm.dynamics.com/"' in input_tag(page, "url")
    assert 'value="contoso.onmicrosoft.com"' in input_tag(page, "azure_tenant")
    assert '<option value="CRMOnline" selected>' in page
    assert re.search(r'<button[^>]*name="action" value="save"[^>]*>SAVE</button>', page)


def test_it_leaves_the_secret_box_empty_and_says_a_secret_is_stored(admin_client, saved):
    page = admin_client.get(edit_url(saved)).content.decode()
    box = input_tag(page, "client_secret")
    assert 'type="password"' in box
    assert "value=" not in box
    helptext = re.search(r'id="id_client_secret_helptext"[^>]*>(.*?)</div>', page, re.S).group(1)
    assert "A client secret is stored" in helptext
    assert TEST_SECRET not in page


def test_it_saves_changes_to_every_field(admin_client, saved, admin_user):
    moment = datetime(2026, 7, 8, 9, 10, tzinfo=UTC)
    changes = {
        "name": "Contoso On-premises",
        "client_id": "99999999-8888-7777-6666-555555555555",
        "client_secret": NEW_SECRET,
        "url": "http://CRM.Contoso.local/Sales",
        "crm_version": "CRM2011+",
        "azure_tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "azure_environment": "USGOVT",
        "auth_scheme": "ADFS",
        "adfs_url": "adfs.contoso.com",
        "adfs_resource": "https://auth.crm.contoso.local/",
    }
    with time_machine.travel(moment, tick=False):
        response = admin_client.post(edit_url(saved), edit_post(**changes), follow=True)
    assert response.redirect_chain == [(saved.get_absolute_url(), 302)]
    assert "The connection “Contoso On-premises” was saved." in response.content.decode()
    after = Connection.objects.get(pk=saved.pk)
    # CRM2011+ servers do not use Microsoft Entra ID: the AzureTenant no longer applies and is dropped.
    assert (after.name, after.client_id, after.url, after.crm_version, after.azure_tenant) == (
        "Contoso On-premises",
        "99999999-8888-7777-6666-555555555555",
        "http://crm.contoso.local/Sales/",
        "CRM2011+",
        "",
    )
    assert (after.auth_scheme, after.adfs_url, after.adfs_resource) == (
        "ADFS",
        "https://adfs.contoso.com/adfs",
        "https://auth.crm.contoso.local/",
    )
    assert after.azure_environment == "USGOVT"
    assert after.get_client_secret() == NEW_SECRET
    assert (after.owner, after.created_at, after.updated_at) == (admin_user, saved.created_at, moment)
    assert Connection.objects.count() == 1


def test_it_keeps_the_stored_secret_when_the_box_is_left_empty(admin_client, saved):
    response = admin_client.post(edit_url(saved), edit_post(name="Contoso Renamed"))
    assert response.status_code == 302
    saved.refresh_from_db()
    assert saved.name == "Contoso Renamed"
    assert saved.get_client_secret() == TEST_SECRET


def test_it_replaces_the_secret_when_a_new_one_is_typed(admin_client, saved):
    response = admin_client.post(edit_url(saved), edit_post(client_secret=f"  {NEW_SECRET}\n"))
    assert response.status_code == 302
    saved.refresh_from_db()
    assert saved.get_client_secret() == NEW_SECRET


def test_it_asks_for_a_secret_when_none_is_stored(admin_client, make_connection):
    connection = make_connection(client_secret="")
    response = admin_client.post(edit_url(connection), edit_post(name=connection.name))
    assert response.status_code == 400
    assert "Enter the Client Secret" in field_error(response, "client_secret")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("client_id", "not-a-guid", "GUID"),
        ("url", "http://contoso.crm.dynamics.com/", "https://"),
        ("azure_tenant", "common", "not 'common'"),
        ("name", "", "Enter a Connection Name"),
    ],
)
def test_it_keeps_the_saved_connection_unchanged_when_the_edit_is_invalid(admin_client, saved, field, value, message):
    before = Connection.objects.filter(pk=saved.pk).values().get()
    changes = {"name": "Changed Name", "client_secret": NEW_SECRET, "crm_version": "CRMOnline", field: value}
    response = admin_client.post(edit_url(saved), edit_post(**changes))
    assert response.status_code == 400
    assert message in field_error(response, field)
    assert Connection.objects.filter(pk=saved.pk).values().get() == before
    assert Connection.objects.get(pk=saved.pk).get_client_secret() == TEST_SECRET


def test_it_refuses_to_rename_to_another_connections_name_in_another_case(admin_client, saved, make_connection):
    make_connection(name="Fabrikam HR")
    response = admin_client.post(edit_url(saved), edit_post(name="FABRIKAM hr"))
    assert response.status_code == 400
    assert "already exists" in field_error(response, "name")
    assert Connection.objects.get(pk=saved.pk).name == "Contoso Sales"


def test_it_lets_a_connection_change_the_case_of_its_own_name(admin_client, saved):
    response = admin_client.post(edit_url(saved), edit_post(name="CONTOSO SALES"))
    assert response.status_code == 302
    assert Connection.objects.get(pk=saved.pk).name == "CONTOSO SALES"


def test_it_shows_a_name_clash_found_by_the_database_as_a_form_error(admin_client, saved, make_connection, monkeypatch):
    """Another admin takes the name between validation and save."""
    real_is_valid = ConnectionForm.is_valid

    def is_valid(form):
        valid = real_is_valid(form)
        make_connection(name="Fabrikam HR")
        return valid

    monkeypatch.setattr(ConnectionForm, "is_valid", is_valid)
    response = admin_client.post(edit_url(saved), edit_post(name="fabrikam hr"))
    assert response.status_code == 400
    assert "already exists" in field_error(response, "name")
    assert Connection.objects.get(pk=saved.pk).name == "Contoso Sales"


def test_it_does_not_create_a_connection_when_editing(admin_client, saved):
    data = edit_post(name="Contoso Renamed")
    admin_client.post(edit_url(saved), data)
    admin_client.post(edit_url(saved), data)
    assert list(Connection.objects.values_list("pk", "name")) == [(saved.pk, "Contoso Renamed")]


def test_it_keeps_the_outcome_of_a_test_the_worker_recorded_during_the_edit(admin_client, saved, monkeypatch):
    """The worker finishes a TEST of the connection between the edit's read of the row and its save."""
    real_is_valid = ConnectionForm.is_valid

    def is_valid(form):
        valid = real_is_valid(form)
        Connection.objects.get(pk=saved.pk).record_test(check.not_run("x", "Refused.", "", "CRMOnline"))
        return valid

    monkeypatch.setattr(ConnectionForm, "is_valid", is_valid)
    assert admin_client.post(edit_url(saved), edit_post(name="Contoso Renamed")).status_code == 302
    edited = Connection.objects.get(pk=saved.pk)
    assert edited.name == "Contoso Renamed"
    assert edited.last_test_status == TestStatus.UNAVAILABLE
    assert edited.last_tested_at is not None and "Refused." in edited.last_test_message


def test_it_keeps_a_token_the_worker_refreshed_during_the_edit(admin_client, make_connection, monkeypatch):
    """An AzureAD TEST on the worker stores msal's refreshed token cache while the connection is being edited."""
    delegated = make_connection(name="Contoso Delegated", auth_scheme="AzureAD", callback_url=CALLBACK)
    azure_ad.store_token_cache(Connection.objects.get(pk=delegated.pk), '{"first": "sign-in"}')
    real_is_valid = ConnectionForm.is_valid

    def is_valid(form):
        valid = real_is_valid(form)
        azure_ad.store_token_cache(Connection.objects.get(pk=delegated.pk), '{"refreshed": "token"}')
        return valid

    monkeypatch.setattr(ConnectionForm, "is_valid", is_valid)
    data = edit_post(name="Contoso Renamed", auth_scheme="AzureAD", callback_url=CALLBACK)
    data |= {"client_id": delegated.client_id, "azure_tenant": delegated.azure_tenant}
    assert admin_client.post(edit_url(delegated), data).status_code == 302
    edited = Connection.objects.get(pk=delegated.pk)
    assert edited.name == "Contoso Renamed"
    assert edited.get_token_cache() == '{"refreshed": "token"}' and edited.token_cache_version == 2


def test_it_answers_not_found_when_the_connection_is_deleted_during_the_edit(admin_client, saved, monkeypatch):
    """Another admin deletes the connection between the edit's read of the row and its save: it stays deleted."""
    real_is_valid = ConnectionForm.is_valid

    def is_valid(form):
        valid = real_is_valid(form)
        Connection.objects.filter(pk=saved.pk).delete()
        return valid

    monkeypatch.setattr(ConnectionForm, "is_valid", is_valid)
    assert admin_client.post(edit_url(saved), edit_post(name="Contoso Renamed")).status_code == 404
    assert not Connection.objects.exists()
