"""Microsoft Graph's "Get application" on the simulator: an app reading its own secrets and certificates."""

from __future__ import annotations

import base64
import datetime as dt

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization

from tests.simulator import make_certificate
from tests.simulator.test_simulator import cca

SELECT = "?$select=passwordCredentials,keyCredentials"


def graph_token(contoso, host="graph.microsoft.com", tenant="contoso.onmicrosoft.com", authority=None) -> str:
    app = cca(contoso.app.client_id, contoso.secret.value, tenant, authority or "login.microsoftonline.com")
    result = app.acquire_token_for_client([f"https://{host}/.default"])
    assert "access_token" in result, result
    return result["access_token"]


def get_application(client_id, token, host="graph.microsoft.com", query=SELECT) -> requests.Response:
    url = f"https://{host}/v1.0/applications(appId='{client_id}'){query}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, timeout=5)


def assert_graph_error(answer, status, code, message=None):
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["code"] == code
    assert message is None or error["message"] == message
    inner = error["innerError"]
    assert inner["request-id"] == answer.headers["request-id"] and inner["client-request-id"] and inner["date"]


def test_it_issues_a_graph_token_with_the_granted_permissions_in_roles(sim, contoso):
    sim.grant_graph(contoso.app.client_id, "Application.Read.All")
    claims = jwt.decode(graph_token(contoso), options={"verify_signature": False})
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["roles"] == ["Application.Read.All"] and claims["idtyp"] == "app"


def test_it_returns_the_apps_secrets_and_certificates(sim, contoso):
    sim.grant_graph(contoso.app.client_id, "Application.Read.All")
    ends = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)
    second = sim.add_secret(contoso.app.client_id, expires_at=ends, display_name="rotation 2027")
    bundle = make_certificate("gathr-connector", valid_days=365)
    registered = sim.add_certificate(contoso.app.client_id, bundle.cert_pem)

    answer = get_application(contoso.app.client_id, graph_token(contoso))

    assert answer.status_code == 200
    body = answer.json()
    assert body["@odata.context"] == (
        "https://graph.microsoft.com/v1.0/$metadata#applications(passwordCredentials,keyCredentials)/$entity"
    )
    assert set(body) == {"@odata.context", "passwordCredentials", "keyCredentials"}
    first, rotated = body["passwordCredentials"]
    assert first["keyId"] == contoso.secret.secret_id and first["hint"] == contoso.secret.value[:3]
    assert first["secretText"] is None and first["displayName"] == "Client secret"
    assert rotated == {
        "customKeyIdentifier": None,
        "displayName": "rotation 2027",
        "endDateTime": "2027-03-01T12:00:00Z",
        "hint": second.value[:3],
        "keyId": second.secret_id,
        "secretText": None,
        "startDateTime": rotated["startDateTime"],
    }
    (key,) = body["keyCredentials"]
    certificate = bundle.certificate
    assert key["customKeyIdentifier"] == base64.b64encode(certificate.fingerprint(hashes.SHA1())).decode()
    assert key["keyId"] == registered.key_id and key["displayName"] == "CN=gathr-connector"
    assert key["endDateTime"] == certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert key["type"] == "AsymmetricX509Cert" and key["usage"] == "Verify"
    assert base64.b64decode(key["key"]) == certificate.public_bytes(serialization.Encoding.DER)


def test_a_new_secret_lasts_two_years_by_default(sim, contoso):
    sim.grant_graph(contoso.app.client_id, "Application.Read.All")
    (secret,) = get_application(contoso.app.client_id, graph_token(contoso)).json()["passwordCredentials"]
    start = dt.datetime.fromisoformat(secret["startDateTime"])
    end = dt.datetime.fromisoformat(secret["endDateTime"])
    assert end.year == start.year + 2 and (end.month, end.day) == (start.month, start.day)
    assert abs(start.timestamp() - sim.now()) < 60


def test_the_key_is_left_out_unless_key_credentials_is_selected(sim, contoso):
    sim.grant_graph(contoso.app.client_id, "Application.Read.All")
    sim.add_certificate(contoso.app.client_id, make_certificate("gathr-connector").cert_pem)
    body = get_application(contoso.app.client_id, graph_token(contoso), query="").json()
    assert body["appId"] == contoso.app.client_id and body["displayName"] == "Gathr connector"
    assert body["keyCredentials"][0]["key"] is None
    assert body["@odata.context"].endswith("/v1.0/$metadata#applications/$entity")


def test_it_requires_application_read_all(sim, contoso):
    sim.grant_graph(contoso.app.client_id, "User.Read.All", "Application.ReadWrite.OwnedBy")
    answer = get_application(contoso.app.client_id, graph_token(contoso))
    assert_graph_error(answer, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def test_a_permission_granted_later_needs_a_new_token(sim, contoso):
    token = graph_token(contoso)
    sim.grant_graph(contoso.app.client_id, "Application.Read.All")
    assert get_application(contoso.app.client_id, token).status_code == 403
    assert get_application(contoso.app.client_id, graph_token(contoso)).status_code == 200


def test_it_answers_404_for_an_app_of_another_tenant(sim, contoso):
    sim.grant_graph(contoso.app.client_id, "Application.Read.All")
    answer = get_application("11111111-2222-3333-4444-555555555555", graph_token(contoso))
    assert_graph_error(answer, 404, "Request_ResourceNotFound")
    assert "11111111-2222-3333-4444-555555555555" in answer.json()["error"]["message"]


@pytest.mark.parametrize("problem", ["missing", "expired", "dataverse token", "not a jwt"])
def test_it_rejects_a_missing_bad_or_expired_token(sim, contoso, problem):
    sim.grant_graph(contoso.app.client_id, "Application.Read.All")
    token = {
        "missing": lambda: None,
        "expired": lambda: graph_token(contoso),
        "dataverse token": lambda: cca(contoso.app.client_id, contoso.secret.value).acquire_token_for_client(
            [contoso.env.url + ".default"]
        )["access_token"],
        "not a jwt": lambda: "nonsense",
    }[problem]()
    if problem == "expired":
        sim.advance(3600)
    answer = get_application(contoso.app.client_id, token)
    assert_graph_error(answer, 401, "InvalidAuthenticationToken")
    assert answer.headers["WWW-Authenticate"].startswith('Bearer realm=""')


@pytest.mark.parametrize(
    ("graph_host", "authority", "domain"),
    [
        ("graph.microsoft.us", "login.microsoftonline.us", "contoso.onmicrosoft.us"),
        ("dod-graph.microsoft.us", "login.microsoftonline.us", "contoso.onmicrosoft.us"),
        ("microsoftgraph.chinacloudapi.cn", "login.chinacloudapi.cn", "contoso.partner.onmschina.cn"),
    ],
)
def test_it_serves_graph_in_the_sovereign_clouds(sim, graph_host, authority, domain):
    tenant = sim.add_tenant(domains=(domain,), authority_host=authority)
    app = sim.add_app(tenant.tenant_id)
    secret = sim.add_secret(app.client_id)
    sim.grant_graph(app.client_id, "Application.Read.All")
    contoso = type("Cloud", (), {"app": app, "secret": secret})
    token = graph_token(contoso, host=graph_host, tenant=domain, authority=authority)
    answer = get_application(app.client_id, token, host=graph_host)
    assert answer.status_code == 200
    assert answer.json()["passwordCredentials"][0]["keyId"] == secret.secret_id
    assert answer.json()["@odata.context"].startswith(f"https://{graph_host}/v1.0/")
    assert get_application(app.client_id, token, host="graph.microsoft.com").status_code == 401


def test_a_graph_token_of_another_cloud_is_refused_by_entra(sim, contoso):
    app = cca(contoso.app.client_id, contoso.secret.value)
    result = app.acquire_token_for_client(["https://graph.microsoft.us/.default"])
    assert result["error"] == "invalid_resource" and result["error_codes"] == [500011]


def test_forced_graph_statuses_carry_graphs_error_body(sim, contoso):
    sim.grant_graph(contoso.app.client_id, "Application.Read.All")
    token = graph_token(contoso)
    sim.set_responses([(429, {"Retry-After": "7"})], host="graph.microsoft.com")
    answer = get_application(contoso.app.client_id, token)
    assert_graph_error(answer, 429, "activityLimitReached")
    assert answer.headers["Retry-After"] == "7"
    assert get_application(contoso.app.client_id, token).status_code == 200


def test_it_lists_the_apps_federated_identity_credentials(sim, contoso):
    sim.grant_graph(contoso.app.client_id, "Application.Read.All")
    added = sim.add_federated_credential(
        contoso.app.client_id, "https://issuer.gathr.test", "connection:7", name="gathr-7", description="TEST"
    )
    path = "/federatedIdentityCredentials"
    answer = get_application(contoso.app.client_id, graph_token(contoso), query=path)
    assert answer.status_code == 200
    assert answer.json()["value"] == [
        {
            "id": added.id,
            "name": "gathr-7",
            "issuer": "https://issuer.gathr.test",
            "subject": "connection:7",
            "description": "TEST",
            "audiences": ["api://AzureADTokenExchange"],
        }
    ]
    sim.revoke_graph(contoso.app.client_id, "Application.Read.All")
    refused = get_application(contoso.app.client_id, graph_token(contoso), query=path)
    assert_graph_error(refused, 403, "Authorization_RequestDenied")
