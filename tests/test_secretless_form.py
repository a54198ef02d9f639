"""Federated (no secret) and Managed identity on the connection form, the connection page and the admin: what the
admin enters on the app registration, and that nothing secret is ever stored for them."""

import html
import re

import pytest
from django.urls import reverse

from connections import secretless
from connections.models import Connection
from tests.helpers import TEST_SECRET, field_error, form_data

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

CREATE_URL = reverse("connections:create")
SITE = "https://gathr.contoso.com"
RESOURCE_ID = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/crm-sync/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/gathr-sync"
)


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE + "/"


def shown(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*value="([^"]*)"', page) or re.search(
        rf'<textarea[^>]*id="{element_id}"[^>]*>(.*?)</textarea>', page, re.S
    )
    return html.unescape(found.group(1)) if found else ""


def subject_token(page: str) -> str:
    return re.search(r'name="federated_subject_token" value="([^"]+)"', page).group(1)


def federated_post(page: str, **overrides) -> dict:
    values = {"credential_type": "federated", "client_secret": "", "federated_subject_token": subject_token(page)}
    return form_data(**(values | overrides))


def test_it_offers_the_four_credentials_with_the_product_words(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    labels = re.findall(r'name="credential_type" value="[^"]+"[^>]*>\s*<label[^>]*>([^<]+)</label>', page)
    assert labels == [
        "Secret (OAuthClientSecret)",
        "Certificate (OAuthJWTCert)",
        "Federated (no secret)",
        "Managed identity (AzureMSI)",
    ]


def test_it_shows_the_three_values_to_enter_on_the_app_registration_before_create(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    assert shown(page, "federated-issuer") == SITE  # the issuer is SITE_URL without its trailing slash
    subject = shown(page, "federated-subject")
    assert re.fullmatch(r"dynamics-crm-connection:[0-9a-f-]{36}", subject)
    assert shown(page, "federated-audience") == "api://AzureADTokenExchange"
    for target in ("federated-issuer", "federated-subject", "federated-audience", "federated-command"):
        assert f'data-copy-target="#{target}"' in page
    command = shown(page, "federated-command")
    assert command.startswith("az ad app federated-credential create --id <Client ID> --parameters ")
    assert f'"issuer": "{SITE}"' in command and f'"subject": "{subject}"' in command
    assert '"audiences": ["api://AzureADTokenExchange"]' in command
    assert "Certificates &amp; secrets &gt; Federated credentials &gt; Add credential" in page
    assert "Other issuer" in page


def test_it_creates_a_federated_connection_with_the_subject_it_showed_and_no_secret(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    subject = shown(page, "federated-subject")
    response = admin_client.post(CREATE_URL, federated_post(page, client_secret=TEST_SECRET))
    assert response.status_code == 302, field_error(response, "credential_type")
    connection = Connection.objects.get()
    assert connection.federated_subject == subject
    assert connection.uses_federated and connection.is_secretless
    assert connection.client_secret_encrypted == "" and connection.certificate_encrypted == ""
    detail = admin_client.get(response.url).content.decode()
    assert "Federated credential (no secret)" in detail
    assert shown(detail, "federated-subject") == subject
    assert "None: nothing secret is stored for this connection" in detail
    assert 'id="credentials-panel"' not in detail  # nothing to rotate


def test_each_new_form_gets_its_own_subject(admin_client):
    first = shown(admin_client.get(CREATE_URL).content.decode(), "federated-subject")
    second = shown(admin_client.get(CREATE_URL).content.decode(), "federated-subject")
    assert first != second


def test_it_refuses_a_subject_that_was_not_signed_by_this_site(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    forged = secretless.subject_token(secretless.new_subject())[:-4] + "AAAA"
    response = admin_client.post(CREATE_URL, federated_post(page, federated_subject_token=forged))
    assert response.status_code == 400
    assert "This form is too old to keep its Subject identifier" in field_error(response, "credential_type")
    assert not Connection.objects.exists()


def test_two_connections_never_share_a_subject(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    assert admin_client.post(CREATE_URL, federated_post(page)).status_code == 302
    again = admin_client.post(CREATE_URL, federated_post(page, name="Contoso Two", creation_token=""))
    assert "belongs to another connection" in field_error(again, "credential_type")
    assert Connection.objects.count() == 1


def test_it_refuses_federated_for_azure_ad(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    response = admin_client.post(CREATE_URL, federated_post(page, auth_scheme="AzureAD"))
    assert "signs in as the app itself: choose AzureServicePrincipal" in field_error(response, "credential_type")
    assert not Connection.objects.exists()


def test_it_refuses_federated_when_the_site_has_no_public_address(admin_client, settings):
    page = admin_client.get(CREATE_URL).content.decode()
    settings.SITE_URL = ""
    response = admin_client.post(CREATE_URL, federated_post(page))
    assert "set SITE_URL" in field_error(response, "credential_type")


def test_the_subject_stays_when_the_credential_changes_and_comes_back(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    admin_client.post(CREATE_URL, federated_post(page))
    connection = Connection.objects.get()
    subject = connection.federated_subject
    edit = reverse("connections:edit", args=[connection.pk])
    admin_client.post(edit, form_data(action="save", creation_token=""))
    connection.refresh_from_db()
    assert connection.credential_type == "secret" and connection.federated_subject == subject
    back = admin_client.get(edit).content.decode()
    assert shown(back, "federated-subject") == subject
    admin_client.post(edit, form_data(action="save", credential_type="federated", client_secret="", creation_token=""))
    connection.refresh_from_db()
    assert connection.uses_federated and connection.federated_subject == subject
    assert connection.client_secret_encrypted == ""  # the secret entered meanwhile is dropped


@pytest.mark.parametrize(
    ("environment", "audience"),
    [("USGOVT", "api://AzureADTokenExchangeUSGov"), ("CHINA", "api://AzureADTokenExchangeChina")],
)
def test_the_audience_is_the_azure_environments(admin_client, environment, audience):
    url = {"USGOVT": "https://contoso.crm.microsoftdynamics.us/", "CHINA": "https://contoso.crm.dynamics.cn/"}
    page = admin_client.get(CREATE_URL).content.decode()
    response = admin_client.post(CREATE_URL, federated_post(page, azure_environment=environment, url=url[environment]))
    detail = admin_client.get(response.url).content.decode()
    assert shown(detail, "federated-audience") == audience
    assert f'"audiences": ["{audience}"]' in shown(detail, "federated-command")


def test_it_creates_a_system_assigned_managed_identity_without_client_id_or_tenant(admin_client):
    data = form_data(credential_type="managed_identity", client_secret="", client_id="", azure_tenant="")
    response = admin_client.post(CREATE_URL, data | {"managed_identity_type": "system"})
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = Connection.objects.get()
    assert connection.uses_managed_identity and connection.client_secret_encrypted == ""
    assert (connection.client_id, connection.azure_tenant, connection.managed_identity_id) == ("", "", "")
    detail = admin_client.get(response.url).content.decode()
    assert 'id="managed-identity"' in detail and "System-assigned" in detail


@pytest.mark.parametrize(
    ("kind", "value", "kept", "error"),
    [
        ("client_id", "{AB0E4C49-7B43-4C6B-9D52-1A1E1D1C2F3A}", "ab0e4c49-7b43-4c6b-9d52-1a1e1d1c2f3a", ""),
        ("client_id", "not-a-guid", None, "GUID"),
        ("client_id", "", None, "Enter the client ID of the user-assigned managed identity."),
        ("resource_id", RESOURCE_ID, RESOURCE_ID, ""),
        ("resource_id", "/subscriptions/x/resourceGroups/y", None, "Enter the identity's resource ID"),
    ],
)
def test_it_checks_the_user_assigned_identity_next_to_its_field(admin_client, kind, value, kept, error):
    data = form_data(credential_type="managed_identity", client_secret="")
    response = admin_client.post(CREATE_URL, data | {"managed_identity_type": kind, "managed_identity_id": value})
    if error:
        assert error in field_error(response, "managed_identity_id")
        assert not Connection.objects.exists()
    else:
        assert response.status_code == 302
        assert Connection.objects.get().managed_identity_id == kept


def test_it_refuses_a_managed_identity_for_azure_ad(admin_client):
    data = form_data(credential_type="managed_identity", auth_scheme="AzureAD", client_secret="")
    response = admin_client.post(CREATE_URL, data | {"managed_identity_type": "system"})
    assert "Managed identity (AzureMSI) signs in as the app itself" in field_error(response, "credential_type")


def test_the_admin_shows_the_federated_values_and_keeps_the_subject(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    admin_client.post(CREATE_URL, federated_post(page))
    connection = Connection.objects.get()
    change = admin_client.get(reverse("admin:connections_connection_change", args=[connection.pk])).content.decode()
    assert f"Subject identifier {connection.federated_subject}" in html.unescape(change)
    assert "Nothing secret is stored: Federated (no secret)." in change
