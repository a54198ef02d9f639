"""New connection: the form's fields, its rules and messages, CREATE, and what bad input gets back."""

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from connections.forms import ConnectionForm
from connections.models import Connection
from tests.helpers import TEST_SECRET, field_error, form_data

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

CREATE_URL = reverse("connections:create")
XSS = '<script>alert("owned")</script>'
TEN_KB = "A" * 10 * 1024
NON_ASCII = "Überweisung für Kunden – 東京 ✓"


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- What the page shows ------------------------------------------------------------------------


def test_it_shows_the_product_fields_in_order_with_their_labels(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    fields = re.findall(r'<label[^>]*for="id_([a-z_]+)"[^>]*>(.*?)</label>', page, re.S)
    labels = [text_of(label).rstrip("*").strip() for _, label in fields]
    product = ["Connection Name", "Client ID", "Client Secret", "URL", "CRM Version", "AzureTenant"]
    assert [label for label in labels if label in product] == product


def test_it_offers_crm2011_and_crmonline_with_crmonline_chosen(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    select = re.search(r'<select name="crm_version".*?</select>', page, re.S).group(0)
    options = re.findall(r'<option value="([^"]+)"( selected)?>', select)
    assert sorted(value for value, _ in options) == ["CRM2011+", "CRMOnline"]
    assert [value for value, selected in options if selected] == ["CRMOnline"]


def test_it_says_where_to_find_each_value(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()

    def help_for(field):
        return text_of(re.search(rf'id="id_{field}_helptext"[^>]*>(.*?)</div>', page, re.S).group(1))

    assert "Application (client) ID" in help_for("client_id")
    assert "Directory (tenant) ID" in help_for("azure_tenant")
    assert "Value" in help_for("client_secret")
    assert "not its Secret ID" in help_for("client_secret")


def test_it_has_a_test_and_a_create_button(admin_client):
    page = admin_client.get(CREATE_URL).content.decode()
    buttons = {
        value: text_of(label)
        for value, label in re.findall(r'<button[^>]*name="action" value="(\w+)"[^>]*>(.*?)</button>', page, re.S)
    }
    assert buttons == {"test": "TEST", "create": "CREATE"}


# --- Field rules --------------------------------------------------------------------------------

REJECTED = [
    ("name", "", "Enter a Connection Name"),
    ("name", "   ", "Enter a Connection Name"),
    ("name", "n" * 101, "at most 100 characters"),
    ("name", "Contoso\nSales", "line breaks"),
    ("client_id", "", "Enter the Client ID"),
    ("client_id", "my-app-registration", "GUID"),
    ("client_id", "11111111222233334444555555555555", "8-4-4-4-12"),
    ("azure_tenant", "", "Enter the AzureTenant"),
    ("azure_tenant", "common", "not 'common'"),
    ("azure_tenant", "organizations", "not 'organizations'"),
    ("azure_tenant", "contoso", "a domain of the tenant"),
    ("azure_tenant", "https://contoso.onmicrosoft.com/", "a domain of the tenant"),
    ("url", "", "Enter the URL"),
    ("url", "contoso.crm.dynamics.com", "absolute URL"),
    ("url", "/main.aspx", "absolute URL"),
    ("url", "ftp://contoso.crm.dynamics.com/", "absolute URL"),
    ("url", "https://admin:hunter2@contoso.crm.dynamics.com/", "user name and password"),
    ("url", "https://admin@contoso.crm.dynamics.com/", "user name and password"),
    ("url", "https://contoso.crm.dynamics.com/?appid=1", "after ? or #"),
    ("url", "https://contoso.crm.dynamics.com/#main", "after ? or #"),
    ("url", "https://contoso.crm.dynamics.com/?", "after ? or #"),
    ("url", "http://contoso.crm.dynamics.com/", "must start with https://"),
    ("crm_version", "CRM4", "Select a valid choice"),
    ("client_secret", "", "Enter the Client Secret"),
]


@pytest.mark.parametrize(("field", "value", "message"), REJECTED)
def test_it_rejects_bad_values_with_a_message_next_to_the_field(admin_client, field, value, message):
    response = admin_client.post(CREATE_URL, form_data(**{field: value}))
    assert response.status_code == 400
    assert message in field_error(response, field)
    assert not Connection.objects.exists()


TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
# CRM2011+ signs in with a Windows account (NTLM) or AD FS, not with Microsoft Entra ID.
ON_PREMISES = {
    "crm_version": "CRM2011+",
    "auth_scheme": "NTLM",
    "windows_user": "CONTOSO\\maria",
    "windows_password": "pw",
}
ACCEPTED = [
    ({"url": "HTTPS://Contoso.CRM.Dynamics.com"}, "url", "https://contoso.crm.dynamics.com/"),
    ({"url": "https://contoso.crm.dynamics.com/main.aspx"}, "url", "https://contoso.crm.dynamics.com/"),
    ({"url": "https://contoso.crm.dynamics.com:443"}, "url", "https://contoso.crm.dynamics.com/"),
    ({"url": "http://MySite/MyOrganization", **ON_PREMISES}, "url", "http://mysite/MyOrganization/"),
    ({"url": "http://MySite/MyOrganization/", **ON_PREMISES}, "url", "http://mysite/MyOrganization/"),
    ({"url": "https://CRM.corp.example:8443/Sales", **ON_PREMISES}, "url", "https://crm.corp.example:8443/Sales/"),
    ({"client_id": " 11111111-2222-3333-4444-55555555555A "}, "client_id", "11111111-2222-3333-4444-55555555555a"),
    ({"azure_tenant": f"{{{TENANT_ID.upper()}}}"}, "azure_tenant", TENANT_ID),
    ({"azure_tenant": "Contoso.OnMicrosoft.com"}, "azure_tenant", "contoso.onmicrosoft.com"),
    ({"azure_tenant": "sales.contoso-group.co.uk"}, "azure_tenant", "sales.contoso-group.co.uk"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "field", "stored"), ACCEPTED)
def test_it_accepts_and_normalises_good_values(admin_client, overrides, field, stored):
    response = admin_client.post(CREATE_URL, form_data(**overrides), follow=True)
    connection = Connection.objects.get()
    assert getattr(connection, field) == stored
    assert stored in response.content.decode()


def test_it_refuses_a_name_taken_in_another_case(admin_client, make_connection):
    make_connection(name="Contoso Sales")
    response = admin_client.post(CREATE_URL, form_data(name="CONTOSO sales"))
    assert response.status_code == 400
    assert "already exists" in field_error(response, "name")
    assert Connection.objects.count() == 1


def test_the_database_refuses_two_names_differing_only_in_case(make_connection):
    make_connection(name="Contoso Sales")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_connection(name="contoso SALES")


# --- CREATE -------------------------------------------------------------------------------------


def test_it_creates_the_connection_and_opens_its_page(admin_client, admin_user):
    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        response = admin_client.post(CREATE_URL, form_data())
    connection = Connection.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("connections:detail", args=[connection.pk])
    assert (connection.owner, connection.created_at, connection.updated_at) == (admin_user, moment, moment)
    assert connection.get_client_secret() == TEST_SECRET
    page = admin_client.get(response.url).content.decode()
    assert "The connection “Contoso Sales” was created." in page
    assert '<h1 class="h3 mb-0">Contoso Sales</h1>' in page


def test_it_never_creates_two_rows_when_the_same_form_is_posted_again(admin_client):
    data = form_data()
    first = admin_client.post(CREATE_URL, data)
    again = admin_client.post(CREATE_URL, data, follow=True)
    assert Connection.objects.count() == 1
    assert again.redirect_chain[-1][0] == first.url
    assert "was already created" in again.content.decode()


def race_with(monkeypatch, twin):
    """Let `twin` save a row after the form validated and before the view saves (a double submit)."""
    real_is_valid = ConnectionForm.is_valid

    def is_valid(form):
        valid = real_is_valid(form)
        twin()
        return valid

    monkeypatch.setattr(ConnectionForm, "is_valid", is_valid)


def test_it_never_creates_two_rows_on_a_double_submit(admin_client, make_connection, monkeypatch):
    data = form_data()
    race_with(monkeypatch, lambda: make_connection(name=data["name"], creation_token=data["creation_token"]))
    response = admin_client.post(CREATE_URL, data)
    twin = Connection.objects.get()
    assert response.status_code == 302
    assert response.url == twin.get_absolute_url()


def test_it_shows_a_name_clash_found_by_the_database_as_a_form_error(admin_client, make_connection, monkeypatch):
    race_with(monkeypatch, lambda: make_connection(name="CONTOSO SALES"))
    response = admin_client.post(CREATE_URL, form_data(name="Contoso Sales"))
    assert response.status_code == 400
    assert "already exists" in field_error(response, "name")
    assert Connection.objects.count() == 1


# --- Bad input ----------------------------------------------------------------------------------


def test_it_answers_an_empty_post_with_field_errors(admin_client):
    response = admin_client.post(CREATE_URL, {})
    assert response.status_code == 400
    for field in ("name", "client_id", "client_secret", "url", "crm_version", "azure_tenant"):
        assert field_error(response, field), field
    assert not Connection.objects.exists()


TYPED_FIELDS = ["name", "client_id", "client_secret", "url", "crm_version", "azure_tenant", "azure_environment"]


@pytest.mark.parametrize("field", [*TYPED_FIELDS, "certificate_password"])
def test_it_rejects_ten_kilobytes_in_any_field(admin_client, field):
    response = admin_client.post(CREATE_URL, form_data(**{field: TEN_KB}))
    assert response.status_code == 400
    assert field_error(response, field)
    assert not Connection.objects.exists()


def test_it_rejects_ten_kilobytes_in_every_field_at_once(admin_client):
    response = admin_client.post(CREATE_URL, {field: TEN_KB for field in form_data()})
    assert response.status_code == 400
    for field in [*TYPED_FIELDS, "creation_token"]:
        assert field_error(response, field), field


def test_it_says_so_when_the_hidden_token_was_altered(admin_client):
    response = admin_client.post(CREATE_URL, form_data(creation_token="not-a-token"))
    assert response.status_code == 400
    assert "reload the page" in field_error(response, "creation_token")
    assert not Connection.objects.exists()


@pytest.mark.parametrize(
    ("field", "status"),
    [("name", 302), ("client_secret", 302), ("client_id", 400), ("url", 400), ("azure_tenant", 400)],
)
def test_it_handles_non_ascii_text(admin_client, field, status):
    response = admin_client.post(CREATE_URL, form_data(**{field: NON_ASCII}), follow=True)
    if status == 302:
        connection = Connection.objects.get()
        assert response.redirect_chain[-1][0] == connection.get_absolute_url()
        stored = connection.get_client_secret() if field == "client_secret" else connection.name
        assert stored == NON_ASCII.strip()
    else:
        assert response.status_code == 400
        assert field_error(response, field)


@pytest.mark.parametrize("field", [*TYPED_FIELDS, "certificate_password"])
def test_it_escapes_html_typed_into_any_field(admin_client, field):
    response = admin_client.post(CREATE_URL, form_data(**{field: XSS}), follow=True)
    page = response.content.decode()
    assert response.status_code in (200, 400)
    assert XSS not in page
    assert "<script>alert" not in page
    if field not in ("client_secret", "certificate_password"):
        assert "&lt;script&gt;alert" in page
    if field == "name":
        assert "&lt;script&gt;alert" in admin_client.get(reverse("connections:list")).content.decode()


@pytest.mark.parametrize(
    ("method", "url_name"),
    [
        ("get", "connections:test"),
        ("put", "connections:create"),
        ("delete", "connections:create"),
        ("put", "connections:edit"),
        ("patch", "connections:edit"),
        ("delete", "connections:delete"),
        ("put", "connections:test"),
    ],
)
def test_it_rejects_the_wrong_method_with_405(admin_client, make_connection, method, url_name):
    connection = make_connection()
    args = [] if url_name == "connections:create" else [connection.pk]
    response = getattr(admin_client, method)(reverse(url_name, args=args))
    assert response.status_code == 405
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_it_refuses_a_post_without_csrf_token(admin_user, make_connection):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    connection = make_connection()
    created = browser.post(CREATE_URL, form_data())
    deleted = browser.post(reverse("connections:delete", args=[connection.pk]))
    assert (created.status_code, deleted.status_code) == (403, 403)
    assert "Forbidden" in created.content.decode()
    assert list(Connection.objects.values_list("pk", flat=True)) == [connection.pk]


# --- Certificate credential ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "gathr-connector.contoso.com"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Contoso"),
        ]
    )
    expires = datetime(2030, 6, 30, 12, 0, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(expires - timedelta(days=1000))
        .not_valid_after(expires)
        .sign(key, hashes.SHA256())
    )
    password = "pfx pässword 1"
    pfx = pkcs12.serialize_key_and_certificates(
        b"gathr", key, cert, None, serialization.BestAvailableEncryption(password.encode())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SimpleNamespace(
        pfx=pfx,
        password=password,
        pem=key_pem + cert_pem,
        cert_pem=cert_pem,
        subject=cert.subject.rfc4514_string(),
        sha1=cert.fingerprint(hashes.SHA1()).hex().upper(),
        sha256=cert.fingerprint(hashes.SHA256()).hex().upper(),
    )


def certificate_post(content: bytes, filename: str, password: str = "") -> dict:
    upload = SimpleUploadedFile(filename, content, content_type="application/octet-stream")
    return form_data(credential_type="certificate", client_secret="", certificate=upload, certificate_password=password)


@pytest.mark.parametrize("kind", ["pfx", "pem"])
def test_it_stores_an_uploaded_certificate_and_shows_its_facts(admin_client, certificate, kind):
    content, password = (certificate.pfx, certificate.password) if kind == "pfx" else (certificate.pem, "")
    response = admin_client.post(CREATE_URL, certificate_post(content, f"app.{kind}", password), follow=True)
    assert response.redirect_chain, field_error(response, "certificate")
    facts = dict(
        (text_of(dt), text_of(dd))
        for dt, dd in re.findall(r"<dt[^>]*>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", response.content.decode(), re.S)
    )
    assert facts["Subject"] == certificate.subject
    assert "CN=gathr-connector.contoso.com" in facts["Subject"]
    assert facts["Thumbprint (SHA-1)"] == certificate.sha1
    assert facts["Thumbprint (SHA-256)"] == certificate.sha256
    assert facts["Expires"].startswith("2030-06-30 12:00")
    assert Connection.objects.get().get_certificate().sha1 == certificate.sha1


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        ("wrong_password", "Certificate Password is wrong"),
        ("garbage", "cannot be opened"),
        ("cert_only_pem", "private key"),
        ("empty", "empty"),
    ],
)
def test_it_rejects_an_unusable_certificate_next_to_the_field(admin_client, certificate, upload, message):
    content, password = {
        "wrong_password": (certificate.pfx, "not the password"),
        "garbage": (b"\x00\x01 this is not a certificate \xff" * 20, ""),
        "cert_only_pem": (certificate.cert_pem, ""),
        "empty": (b"", ""),
    }[upload]
    response = admin_client.post(CREATE_URL, certificate_post(content, "app.pfx", password))
    assert response.status_code == 400
    assert message in field_error(response, "certificate")
    assert not Connection.objects.exists()


def test_it_asks_for_the_certificate_when_none_is_uploaded(admin_client):
    response = admin_client.post(CREATE_URL, form_data(credential_type="certificate", client_secret=""))
    assert response.status_code == 400
    assert "Upload the certificate" in field_error(response, "certificate")
