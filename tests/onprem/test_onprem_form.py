"""The connection form for CRM2011+ (on-premises): its fields per CRM Version and Auth Scheme, the rules
that tie them together, the http:// notice, and the Windows password (write-only, encrypted at rest)."""

import re
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as database
from django.urls import reverse

from connections import views
from connections.models import Connection
from tests.helpers import TEST_SECRET, field_error, form_data
from tests.onprem.helpers import onprem_form_data

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

CREATE_URL = reverse("connections:create")
PASSWORD = "Winter-2026 is long!"
NEW_PASSWORD = "Spring-2027 comes late?"


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def section(page: str, css_id: str) -> str:
    return re.search(rf'<div id="{css_id}"(.*?)</div>\s*</div>\s*</div>', page, re.S).group(1)


def labels(html: str) -> list[str]:
    found = re.findall(r"<(?:label|legend)[^>]*>(.*?)</(?:label|legend)>", html, re.S)
    return [text_of(label) for label in found]


def url_warning(response) -> str:
    match = re.search(r'<div id="url-warning"([^>]*)>(.*?)</div>', response.content.decode(), re.S)
    return "" if " hidden" in match.group(1) else text_of(match.group(2))


def create(client, **overrides):
    return client.post(CREATE_URL, onprem_form_data(**{"windows_password": PASSWORD, **overrides}))


# --- What the page shows ------------------------------------------------------------------------


def test_it_offers_the_on_premises_auth_schemes_besides_the_entra_ones(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    schemes = re.findall(r'name="auth_scheme" value="([^"]+)"', page)
    assert schemes == ["AzureServicePrincipal", "AzureAD", "NTLM", "ADFS"]


def test_it_groups_the_fields_of_ntlm_and_of_adfs(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    assert labels(section(page, "ntlm-fields")) == ["User", "Password"]
    assert labels(section(page, "adfs-fields")) == ["AD FS Server", "AD FS Resource"]


def test_no_new_label_clashes_with_the_product_pages_labels(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    product = ["Connection Name", "Client ID", "Client Secret", "URL", "CRM Version", "AzureTenant"]
    every = labels(re.sub(r"<template.*?</template>", "", page, flags=re.S))  # the Callback URL waits there
    for name in ("URL", "Client Secret", "Client ID", "AzureTenant"):
        holding = [label for label in every if name.lower() in label.lower()]
        assert holding == [name], f"{name!r} is in the labels {holding}"
    assert [label for label in every if label.rstrip("*").strip() in product] == product


def test_the_edit_form_of_an_ntlm_connection_shows_the_user_and_never_the_password(admin_client):
    create(admin_client)
    connection = Connection.objects.get()
    page = admin_client.get(reverse("connections:edit", args=[connection.pk])).content.decode()
    assert 'value="CONTOSO\\maria"' in page
    box = re.search(r'<input[^>]*name="windows_password"[^>]*>', page).group(0)
    assert "value=" not in box
    assert "A password is stored" in page
    assert PASSWORD not in page
    assert re.search(r'name="auth_scheme" value="NTLM"[^>]*checked', page)


def test_the_connection_page_shows_the_windows_account_and_not_entra_fields(admin_client):
    create(admin_client)
    page = text_of(admin_client.get(Connection.objects.get().get_absolute_url()).content.decode())
    assert "User CONTOSO\\maria" in page
    assert "Password Stored (encrypted; never shown)" in page
    assert "AzureTenant" not in page and "Azure Environment" not in page
    assert PASSWORD not in page


# --- Saving -------------------------------------------------------------------------------------


def test_it_saves_an_ntlm_connection_without_client_id_or_tenant(admin_client):
    response = create(admin_client, client_id="not even a GUID", azure_tenant="common", client_secret=TEST_SECRET)
    assert response.status_code == 302, field_error(response, "client_id")
    connection = Connection.objects.get()
    assert (connection.auth_scheme, connection.windows_user, connection.client_id, connection.azure_tenant) == (
        "NTLM",
        "CONTOSO\\maria",
        "",
        "",
    )
    assert connection.get_windows_password() == PASSWORD
    assert not connection.has_client_secret  # a secret NTLM does not use is not kept


def test_the_windows_password_is_only_ciphertext_in_the_database(admin_client):
    create(admin_client)
    with database.cursor() as cursor:
        cursor.execute("SELECT * FROM connections_connection")
        row = " ".join(str(value) for value in cursor.fetchone())
    assert PASSWORD not in row
    assert Connection.objects.get().windows_password_encrypted.startswith("gAAAAA")


def test_an_edit_keeps_the_stored_password_when_the_box_is_blank_and_replaces_it_when_typed(admin_client):
    create(admin_client)
    connection = Connection.objects.get()
    edit = reverse("connections:edit", args=[connection.pk])
    response = admin_client.post(edit, onprem_form_data(name="Renamed", windows_password=""))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert (connection.name, connection.get_windows_password()) == ("Renamed", PASSWORD)
    admin_client.post(edit, onprem_form_data(name="Renamed", windows_password=NEW_PASSWORD))
    connection.refresh_from_db()
    assert connection.get_windows_password() == NEW_PASSWORD


def test_moving_to_crmonline_forgets_the_windows_password(admin_client):
    create(admin_client)
    connection = Connection.objects.get()
    response = admin_client.post(reverse("connections:edit", args=[connection.pk]), form_data(name=connection.name))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert (connection.crm_version, connection.windows_user, connection.has_windows_password) == (
        "CRMOnline",
        "",
        False,
    )


def test_it_saves_an_adfs_connection_with_a_normalised_adfs_server(admin_client):
    response = create(
        admin_client,
        auth_scheme="ADFS",
        url="https://crm.contoso.com/Contoso",
        client_id="{11111111-2222-3333-4444-555555555555}",
        client_secret=TEST_SECRET,
        adfs_url="ADFS.contoso.com",
    )
    assert response.status_code == 302
    connection = Connection.objects.get()
    assert (connection.adfs_url, connection.adfs_resource, connection.client_id) == (
        "https://adfs.contoso.com/adfs",
        "",
        "11111111-2222-3333-4444-555555555555",
    )
    assert connection.get_client_secret() == TEST_SECRET
    assert (connection.windows_user, connection.has_windows_password) == ("", False)


def test_rotating_the_encryption_key_re_encrypts_the_windows_password(admin_client, settings):
    create(admin_client)
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEY]
    call_command("rotate_encryption_key", stdout=StringIO())
    settings.FIELD_ENCRYPTION_KEY = settings.FIELD_ENCRYPTION_KEY[:1]
    assert Connection.objects.get().get_windows_password() == PASSWORD


def test_the_password_is_a_sensitive_post_parameter():
    assert "windows_password" in views.SENSITIVE_FIELDS


# --- Rules --------------------------------------------------------------------------------------

REJECTED = [
    ({"windows_user": ""}, "windows_user", "Enter the User"),
    ({"windows_user": "maria"}, "windows_user", "DOMAIN\\name"),
    ({"windows_user": "CONTOSO\\"}, "windows_user", "DOMAIN\\name"),
    ({"windows_password": ""}, "windows_password", "Enter the Password"),
    ({"auth_scheme": "AzureServicePrincipal"}, "auth_scheme", "for CRM2011+ (on-premises) choose NTLM or ADFS"),
    ({"auth_scheme": "AzureAD"}, "auth_scheme", "only CRMOnline uses"),
    ({"crm_version": "CRMOnline", "url": "https://contoso.crm.dynamics.com/", "azure_tenant": "contoso.com",
      "client_id": "11111111-2222-3333-4444-555555555555", "client_secret": TEST_SECRET},
     "auth_scheme", "NTLM is for CRM2011+ (on-premises) servers"),
    ({"auth_scheme": "ADFS"}, "adfs_url", "Enter the AD FS Server"),
    ({"auth_scheme": "ADFS", "adfs_url": "adfs.contoso.com"}, "client_id", "Enter the Client ID"),
    ({"auth_scheme": "ADFS", "adfs_url": "adfs.contoso.com", "client_id": "11111111-2222-3333-4444-555555555555"},
     "client_secret", "Client Secret of the AD FS server application"),
    ({"auth_scheme": "ADFS", "adfs_url": "http://adfs.contoso.com/adfs"}, "adfs_url", "with https://"),
    ({"auth_scheme": "ADFS", "adfs_url": "https://adfs.contoso.com/somewhere"}, "adfs_url", "https://adfs.contoso.com/adfs"),
    ({"auth_scheme": "ADFS", "adfs_url": "adfs.contoso.com", "adfs_resource": "https://crm .contoso.com/"},
     "adfs_resource", "without spaces"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "field", "message"), REJECTED)
def test_it_rejects_what_an_on_premises_connection_cannot_use(admin_client, overrides, field, message):
    response = create(admin_client, **overrides)
    assert response.status_code == 400
    assert message in field_error(response, field)
    assert not Connection.objects.exists()


def test_crm2011_without_a_posted_auth_scheme_means_ntlm(admin_client):
    data = onprem_form_data(windows_password=PASSWORD)
    del data["auth_scheme"]
    assert admin_client.post(CREATE_URL, data).status_code == 302
    assert Connection.objects.get().auth_scheme == "NTLM"


# --- The http:// notice -------------------------------------------------------------------------


def test_an_http_url_is_allowed_with_a_notice_for_ntlm(admin_client):
    response = admin_client.post(CREATE_URL, onprem_form_data(windows_user="maria", windows_password=PASSWORD))
    assert response.status_code == 400  # for the User; the URL itself is accepted
    assert not field_error(response, "url")
    assert "NTLM never sends the password itself" in url_warning(response)
    assert "unencrypted" in url_warning(response)


def test_the_notice_for_adfs_warns_about_the_token(admin_client):
    response = create(admin_client, auth_scheme="ADFS", adfs_url="")
    assert "the AD FS token" in url_warning(response)


def test_there_is_no_notice_for_https(admin_client):
    response = create(admin_client, url="https://crm.contoso.com/Contoso/", windows_user="maria")
    assert url_warning(response) == ""


def test_the_notice_is_in_the_page_for_the_script_to_show(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    warning = re.search(r'<div id="url-warning"[^>]*>', page).group(0)
    assert " hidden" in warning
    assert 'data-ntlm="This URL uses http://' in warning and 'data-adfs="This URL uses http://' in warning


def test_an_api_client_may_leave_out_what_on_premises_servers_do_not_use(admin_client):
    data = onprem_form_data(windows_password=PASSWORD)
    for unused in ("client_id", "client_secret", "azure_tenant", "azure_environment", "credential_type"):
        del data[unused]
    assert admin_client.post(CREATE_URL, data).status_code == 302
    assert Connection.objects.get().azure_environment == "GLOBAL"
