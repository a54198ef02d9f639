"""A saved Managed identity connection, from the form to its TEST and its page: nothing secret stored, no Client
ID or AzureTenant needed, the token from this machine's endpoint (the simulator's App Service endpoint)."""

import pytest
from django.urls import reverse

from connections import testing
from connections.models import Connection
from tests.helpers import form_data
from tests.test_managed_identity import ENDPOINT_HOST, identity_on, no_platform  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


@pytest.fixture
def app_service(microsoft, monkeypatch):
    endpoint = microsoft.sim.start_managed_identity_endpoint(kind="app_service", host=ENDPOINT_HOST)
    monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint.base_url)
    monkeypatch.setenv("IDENTITY_HEADER", endpoint.identity_header)
    return endpoint


def create(admin_client, **identity) -> Connection:
    data = form_data(credential_type="managed_identity", client_secret="", client_id="", azure_tenant="")
    response = admin_client.post(reverse("connections:create"), data | identity)
    assert response.status_code == 302, response.content.decode()[:3000]
    return Connection.objects.get()


def test_a_saved_system_assigned_connection_tests_available_with_no_secret(admin_client, microsoft, app_service):
    identity_on(microsoft, app_service)
    connection = create(admin_client, managed_identity_type="system")
    result = testing.test_saved(connection)
    assert result.ok, result.summary
    token = next(step for step in result.steps if step.key == "token")
    assert token.label == "Token from the managed identity" and "App Service (IDENTITY_ENDPOINT)" in token.detail
    page = admin_client.get(reverse("connections:detail", args=[connection.pk])).content.decode()
    assert "App Service (IDENTITY_ENDPOINT)" in page and "System-assigned" in page
    assert "Never: there is no secret or certificate to renew" in page


def test_a_user_assigned_identity_is_asked_for_by_its_client_id(admin_client, microsoft, app_service):
    identity_on(microsoft, app_service, name="first")
    chosen = identity_on(microsoft, app_service, user_assigned=True, name="crm-sync")
    connection = create(admin_client, managed_identity_type="client_id", managed_identity_id=chosen.client_id)
    result = testing.test_saved(connection)
    assert result.ok, result.summary
    assert chosen.client_id in app_service_query(microsoft)


def test_an_identity_without_an_application_user_is_named_by_its_application_id(admin_client, microsoft, app_service):
    identity = identity_on(microsoft, app_service, member=False)
    connection = create(admin_client, managed_identity_type="system")
    result = testing.test_saved(connection)
    assert result.code == "no_application_user"
    assert identity.client_id in result.hint


def app_service_query(microsoft) -> str:
    return " ".join(record.query for record in microsoft.sim.requests if record.host.startswith(ENDPOINT_HOST))
