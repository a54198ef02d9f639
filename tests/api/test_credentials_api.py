"""Write-only credentials: secrets, certificates and passwords are accepted and never returned; the secretless
credentials read back what the app registration needs. A personal API token acts as its user, never as more."""

import base64
import json
import logging

import pytest

from api_tokens.models import ApiToken
from connections.models import Connection
from tests.api.conftest import JsonClient, connection_body
from tests.helpers import TEST_SECRET
from tests.simulator import make_certificate
from tests.test_connection_test import good

pytestmark = pytest.mark.django_db
PFX_PASSWORD = "pfx-pass-9f3c"
WINDOWS_PASSWORD = "W1ndows-pass-4e7a"
SITE = "https://connectors.example.com"


def every_answer(client, connection_id: int) -> str:
    paths = [
        "/api/v1/connections/",
        f"/api/v1/connections/{connection_id}/",
        f"/api/v1/connections/{connection_id}/history/",
    ]
    return "".join(client.call("GET", path).content.decode() for path in paths)


def test_a_certificate_is_accepted_base64_and_never_returned(api, microsoft, all_logs):
    bundle = make_certificate("gathr-api")
    microsoft.sim.add_certificate(microsoft.app.client_id, bundle.cert_pem)
    body = connection_body(**good(microsoft, credential_type="certificate", client_secret=""))
    body |= {
        "certificate": base64.b64encode(bundle.pfx_bytes(PFX_PASSWORD)).decode(),
        "certificate_password": PFX_PASSWORD,
    }
    created = api["user"].call("POST", "/api/v1/connections/", body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["has_certificate"] is True and data["certificate"]["sha1"].upper() == bundle.thumbprint_sha1_hex.upper()
    run = api["user"].call("GET", api["user"].call("POST", f"/api/v1/connections/{data['id']}/tests/")["Location"])
    assert run.json()["ok"] is True, run.json()
    seen = created.content.decode() + run.content.decode() + every_answer(api["user"], data["id"])
    logged = "\n".join(record.getMessage() for record in all_logs)
    for secret in (PFX_PASSWORD, body["certificate"][:60], bundle.key_pem.split("\n")[1]):
        assert secret not in seen and secret not in logged


def test_secrets_and_passwords_are_never_in_an_answer_or_a_log(api, all_logs):
    created = api["user"].call("POST", "/api/v1/connections/", connection_body())
    onprem = connection_body(
        name="On premises",
        crm_version="CRM2011+",
        url="https://crm.contoso.local/contoso/",
        auth_scheme="NTLM",
        windows_user="CONTOSO\\maria",
        windows_password=WINDOWS_PASSWORD,
        client_id="",
        client_secret="",
        azure_tenant="",
    )
    second = api["user"].call("POST", "/api/v1/connections/", onprem)
    refused = api["user"].call("POST", "/api/v1/connections/", connection_body(name="", client_secret=TEST_SECRET))
    seen = "".join(r.content.decode() for r in (created, second, refused))
    seen += every_answer(api["user"], created.json()["id"])
    logged = "\n".join(record.getMessage() for record in all_logs)
    for secret in (TEST_SECRET, WINDOWS_PASSWORD):
        assert secret not in seen and secret not in logged
    assert second.status_code == 201, second.content
    assert second.json()["has_windows_password"] is True


def test_a_federated_connection_reads_back_its_issuer_subject_and_audience(api, settings):
    settings.SITE_URL = SITE + "/"
    body = connection_body(credential_type="federated", client_secret="")
    data = api["user"].call("POST", "/api/v1/connections/", body).json()
    connection = Connection.objects.get(pk=data["id"])
    assert data["federated_subject"] == connection.federated_subject
    command = data["federated"].pop("az_command")
    assert data["federated"] == {
        "issuer": SITE,
        "subject": connection.federated_subject,
        "audience": "api://AzureADTokenExchange",
    }
    assert command.startswith(f"az ad app federated-credential create --id {connection.client_id} --parameters ")
    assert connection.federated_subject in command
    assert data["has_client_secret"] is False


def test_a_managed_identity_reads_back_its_kind_and_id(api):
    body = connection_body(credential_type="managed_identity", client_secret="", client_id="", azure_tenant="")
    body |= {"managed_identity_type": "client_id", "managed_identity_id": "{AB0E4C49-7B43-4C6B-9D52-1A1E1D1C2F3A}"}
    data = api["user"].call("POST", "/api/v1/connections/", body).json()
    assert (data["managed_identity_type"], data["managed_identity_id"]) == (
        "client_id",
        "ab0e4c49-7b43-4c6b-9d52-1a1e1d1c2f3a",
    )


def bearer(user) -> JsonClient:
    _, plaintext = ApiToken.issue(user, "ci")
    client = JsonClient()
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {plaintext}"
    return client


def test_a_token_acts_as_its_user_and_never_as_more(user, make_connection, caplog):
    private = make_connection(name="Admin's", scope="private")
    shared = make_connection(name="Shared", scope="organization")
    client = bearer(user)
    with caplog.at_level(logging.DEBUG):
        listed = client.call("GET", "/api/v1/connections/").json()
    assert [row["name"] for row in listed["results"]] == ["Shared"]
    assert client.call("GET", f"/api/v1/connections/{private.pk}/").status_code == 404
    tag = client.call("GET", f"/api/v1/connections/{shared.pk}/")["ETag"]
    assert client.call("PATCH", f"/api/v1/connections/{shared.pk}/", {"name": "x"}, if_match=tag).status_code == 403
    created = client.call("POST", "/api/v1/connections/", connection_body())
    assert created.status_code == 201 and created.json()["owner"] == user.username
    assert client.defaults["HTTP_AUTHORIZATION"].split()[1] not in caplog.text


def test_a_token_needs_no_csrf_token(user):
    client = bearer(user)
    client.handler.enforce_csrf_checks = True
    assert client.call("POST", "/api/v1/connections/", connection_body()).status_code == 201


def test_a_revoked_token_is_401(user):
    row, plaintext = ApiToken.issue(user, "old")
    ApiToken.objects.filter(pk=row.pk).update(revoked_at=row.created_at)
    answer = JsonClient().call("GET", "/api/v1/connections/", authorization=f"Bearer {plaintext}")
    assert answer.status_code == 401 and json.loads(answer.content)["type"].endswith("not-authenticated")
