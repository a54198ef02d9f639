"""The simulator, exercised through unmodified msal and requests.

Run: .venv/bin/python -m pytest tests/simulator -q -p no:django
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import jwt
import msal
import pytest
import requests

from tests.simulator import Simulator, make_certificate
from tests.simulator.conftest import ENV_URL

TOKEN_PATH = "/oauth2/v2.0/token"
WHOAMI = ENV_URL + "api/data/v9.2/WhoAmI"
ODATA_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
DESCRIPTION = re.compile(
    r"^AADSTS(\d+): .+ Trace ID: [0-9a-f-]{36} Correlation ID: [0-9a-f-]{36} "
    r"Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$"
)


def cca(client_id, credential, tenant="contoso.onmicrosoft.com", host="login.microsoftonline.com"):
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=f"https://{host}/{tenant}",
        instance_discovery=False,
        http_client=requests.Session(),
    )


def token_for(contoso, credential=None, scope=ENV_URL + ".default") -> dict:
    return cca(contoso.app.client_id, credential or contoso.secret.value).acquire_token_for_client([scope])


def bearer(access_token: str) -> dict:
    return {**ODATA_HEADERS, "Authorization": f"Bearer {access_token}"}


def post_token(tenant: str, data: dict, **kwargs) -> requests.Response:
    url = f"https://login.microsoftonline.com/{tenant}{TOKEN_PATH}"
    return requests.post(url, data=data, timeout=5, **kwargs)


# --- Entra: secrets ---------------------------------------------------------------


def test_secret_token_then_whoami_and_version(sim, contoso):
    app = cca(contoso.app.client_id, contoso.secret.value)
    result = app.acquire_token_for_client([ENV_URL + ".default"])
    assert result["token_type"] == "Bearer" and result["expires_in"] == 3599
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://contoso.crm.dynamics.com"
    assert claims["iss"] == f"https://sts.windows.net/{contoso.tenant.tenant_id}/"
    assert claims["appid"] == claims["azp"] == contoso.app.client_id
    assert claims["oid"] == contoso.app.object_id and claims["exp"] - claims["iat"] == 3599

    whoami = requests.get(WHOAMI, headers=bearer(result["access_token"]), timeout=5)
    assert whoami.status_code == 200
    assert whoami.headers["Content-Type"] == "application/json; odata.metadata=minimal"
    assert whoami.headers["OData-Version"] == "4.0"
    assert whoami.json() == {
        "@odata.context": ENV_URL + "api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
        "BusinessUnitId": contoso.env.business_unit_id,
        "UserId": contoso.user.user_id,
        "OrganizationId": contoso.env.organization_id,
    }
    version = requests.get(
        ENV_URL + "api/data/v9.2/RetrieveVersion()", headers=bearer(result["access_token"]), timeout=5
    )
    assert version.json()["Version"] == "9.2.25111.00171"

    assert app.acquire_token_for_client([ENV_URL + ".default"])["access_token"] == result["access_token"]
    assert sim.count(host="login.microsoftonline.com", path_contains="openid-configuration") == 1
    assert sim.count(path_contains=TOKEN_PATH) == 1


def test_error_body_shape_and_basic_auth(sim, contoso):
    wrong = post_token(
        contoso.tenant.tenant_id,
        {"grant_type": "client_credentials", "scope": ENV_URL + ".default"},
        auth=(contoso.app.client_id, contoso.secret.secret_id),
    )
    assert wrong.status_code == 401
    body = wrong.json()
    assert set(body) == {
        "error",
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
        "error_uri",
    }
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert DESCRIPTION.match(body["error_description"])
    assert "not the client secret ID" in body["error_description"]
    assert body["error_uri"] == "https://login.microsoftonline.com/error?code=7000215"

    right = post_token(
        contoso.tenant.tenant_id,
        {"grant_type": "client_credentials", "scope": ENV_URL + ".default"},
        auth=(contoso.app.client_id, contoso.secret.value),
    )
    assert right.status_code == 200 and right.json()["ext_expires_in"] == 3599


def test_wrong_and_expired_secret(sim, contoso):
    wrong = token_for(contoso, credential="not-the-secret")
    assert wrong["error"] == "invalid_client" and wrong["error_codes"] == [7000215]

    expired = sim.add_secret(contoso.app.client_id, expires_at=time.time() - 60)
    result = token_for(contoso, credential=expired.value)
    assert result["error_codes"] == [7000222]
    assert f"secret keys for app '{contoso.app.client_id}' are expired" in result["error_description"]


def test_unknown_tenant_and_wrong_cloud(sim, contoso):
    with pytest.raises(ValueError, match="Unable to get authority configuration") as raised:
        cca(contoso.app.client_id, contoso.secret.value, tenant="fabrikam.onmicrosoft.com")
    assert "AADSTS90002: Tenant 'fabrikam.onmicrosoft.com' not found" in str(raised.value.__context__)
    discovery = requests.get(
        f"https://login.microsoftonline.us/{contoso.tenant.tenant_id}/v2.0/.well-known/openid-configuration", timeout=5
    )
    assert discovery.status_code == 400 and discovery.json()["error"] == "invalid_tenant"
    token = post_token("fabrikam.onmicrosoft.com", {"grant_type": "client_credentials"})
    assert token.status_code == 400 and token.json()["error_codes"] == [90002]


def test_unknown_app(sim, contoso):
    result = cca("11111111-2222-3333-4444-555555555555", "x").acquire_token_for_client([ENV_URL + ".default"])
    assert result["error"] == "unauthorized_client" and result["error_codes"] == [700016]
    assert "was not found in the directory 'Contoso'" in result["error_description"]


def test_unknown_resource_and_bad_scope(sim, contoso):
    result = token_for(contoso, scope="https://fabrikam.crm.dynamics.com/.default")
    assert result["error"] == "invalid_resource" and result["error_codes"] == [500011]
    assert (
        "resource principal named https://fabrikam.crm.dynamics.com was not found in the tenant named Contoso"
        in result["error_description"]
    )
    bad_scope = token_for(contoso, scope=ENV_URL + "user_impersonation")
    assert bad_scope["error"] == "invalid_scope" and bad_scope["error_codes"] == [1002012]


def test_sovereign_cloud(sim):
    tenant = sim.add_tenant(domains=("contosogov.onmicrosoft.us",), authority_host="login.microsoftonline.us")
    app = sim.add_app(tenant.tenant_id)
    secret = sim.add_secret(app.client_id)
    env = sim.add_environment("https://contoso.crm.microsoftdynamics.us/", tenant_id=tenant.tenant_id)
    sim.add_application_user(env.url, app.client_id)
    sim.add_environment(ENV_URL, tenant_id=sim.add_tenant().tenant_id)  # a public-cloud environment
    gov = cca(app.client_id, secret.value, tenant=tenant.tenant_id, host="login.microsoftonline.us")
    token = gov.acquire_token_for_client([env.url + ".default"])["access_token"]
    answer = requests.get(env.url + "api/data/v9.2/WhoAmI", headers=bearer(token), timeout=5)
    assert answer.status_code == 200
    assert gov.acquire_token_for_client([ENV_URL + ".default"])["error_codes"] == [500011]


# --- Entra: certificates ----------------------------------------------------------


def test_certificate_thumbprint_rs256(sim, contoso):
    cert = make_certificate("gathr-connector")
    sim.add_certificate(contoso.app.client_id, cert.cert_pem)
    result = token_for(contoso, {"private_key": cert.key_pem, "thumbprint": cert.thumbprint_sha1_hex})
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["appidacr"] == "2"


def test_certificate_public_certificate_ps256_and_subject_name(sim, contoso):
    cert = make_certificate("gathr-connector")
    sim.add_certificate(contoso.app.client_id, cert.cert_pem)
    assert "access_token" in token_for(contoso, {"private_key": cert.key_pem, "public_certificate": cert.cert_pem})

    issuer = make_certificate("Contoso Issuing CA", ca=True)
    issued = make_certificate("connector.contoso.com", issuer=issuer)
    sim.trust_subject_name(contoso.app.client_id, "connector.contoso.com", issuer.cert_pem)
    sni = {"private_key": issued.key_pem, "public_certificate": issued.cert_pem}
    assert "access_token" in token_for(contoso, sni)

    impostor = make_certificate("connector.contoso.com", issuer=make_certificate("Evil CA", ca=True))
    refused = token_for(contoso, {"private_key": impostor.key_pem, "public_certificate": impostor.cert_pem})
    assert refused["error_codes"] == [700027]


def test_unregistered_and_expired_certificate(sim, contoso):
    cert = make_certificate("gathr-connector")
    result = token_for(contoso, {"private_key": cert.key_pem, "thumbprint": cert.thumbprint_sha1_hex})
    assert result["error"] == "invalid_client" and result["error_codes"] == [700027]
    assert "is not registered on application" in result["error_description"]
    assert cert.thumbprint_sha1_hex.upper() in result["error_description"]

    sim.add_certificate(contoso.app.client_id, cert.cert_pem)
    sim.advance(3600)  # the assertion msal signs now is an hour old on the simulator's clock
    late = token_for(contoso, {"private_key": cert.key_pem, "thumbprint": cert.thumbprint_sha1_hex})
    assert late["error_codes"] == [700024]
    assert "Client assertion is not within its valid time range. Current time: " in late["error_description"]


def test_assertion_claims_are_checked(sim, contoso):
    cert = make_certificate("gathr-connector")
    sim.add_certificate(contoso.app.client_id, cert.cert_pem)
    endpoint = f"https://login.microsoftonline.com/{contoso.tenant.tenant_id}{TOKEN_PATH}"
    cases = [
        ({"aud": endpoint.replace(".com", ".us")}, 700023),
        ({"iss": "someone-else"}, 700021),
    ]
    for override, code in cases:
        now = int(time.time())
        claims = {
            "aud": endpoint,
            "iss": contoso.app.client_id,
            "sub": contoso.app.client_id,
            "exp": now + 600,
            "nbf": now,
            "jti": str(now),
            **override,
        }
        assertion = jwt.encode(claims, cert.private_key, "RS256", headers={"x5t": _x5t(cert)})
        answer = post_token(
            contoso.tenant.tenant_id,
            {
                "grant_type": "client_credentials",
                "client_id": contoso.app.client_id,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
                "scope": ENV_URL + ".default",
            },
        )
        assert (answer.status_code, answer.json()["error_codes"]) == (401, [code])
    malformed = post_token(
        contoso.tenant.tenant_id,
        {
            "grant_type": "client_credentials",
            "client_id": contoso.app.client_id,
            "client_assertion": "nope",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        },
    )
    assert malformed.json()["error_codes"] == [50027]


def _x5t(cert) -> str:
    return jwt.utils.base64url_encode(bytes.fromhex(cert.thumbprint_sha1_hex)).decode()


# --- Dataverse --------------------------------------------------------------------


def test_no_application_user_gets_403(sim, contoso):
    stranger = sim.add_app(contoso.tenant.tenant_id)
    secret = sim.add_secret(stranger.client_id)
    result = cca(stranger.client_id, secret.value).acquire_token_for_client([ENV_URL + ".default"])
    answer = requests.get(WHOAMI, headers=bearer(result["access_token"]), timeout=5)
    assert answer.status_code == 403
    assert answer.json() == {
        "error": {"code": "0x80072560", "message": "The user is not a member of the organization."}
    }


def test_missing_expired_and_foreign_tokens_get_401(sim, contoso):
    tid = contoso.tenant.tenant_id
    challenge = f"authorization_uri=https://login.microsoftonline.com/{tid}/oauth2/authorize, resource_id={ENV_URL}"
    missing = requests.get(WHOAMI, headers=ODATA_HEADERS, timeout=5)
    assert missing.status_code == 401 and missing.content == b""
    assert missing.headers["WWW-Authenticate"] == f"Bearer {challenge}"

    token = token_for(contoso)["access_token"]
    other = sim.add_environment("https://fabrikam.crm4.dynamics.com/", tenant_id=tid)
    sim.add_application_user(other.url, contoso.app.client_id)
    foreign = requests.get(other.url + "api/data/v9.2/WhoAmI", headers=bearer(token), timeout=5)
    assert "error_description=Security Token Validation Failed!" in foreign.headers["WWW-Authenticate"]

    sim.advance(3599 + 301)
    expired = requests.get(WHOAMI, headers=bearer(token), timeout=5)
    assert expired.status_code == 401
    assert expired.headers["WWW-Authenticate"] == (
        f"Bearer error=invalid_token, error_description=Security Token Expired!, {challenge}"
    )


def test_api_host_and_unknown_path(sim, contoso):
    token = token_for(contoso)["access_token"]
    via_api = requests.get(
        "https://contoso.api.crm.dynamics.com/api/data/v9.0/WhoAmI()", headers=bearer(token), timeout=5
    )
    assert via_api.status_code == 200
    missing = requests.get(ENV_URL + "api/data/v9.2/widgets", headers=bearer(token), timeout=5)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "0x80060888"
    assert requests.get("https://nobody.crm.dynamics.com/api/data/v9.2/WhoAmI", timeout=5).status_code == 404


# --- knobs and transport ----------------------------------------------------------


def test_forced_statuses(sim, contoso):
    token = token_for(contoso)["access_token"]
    sim.set_responses([(503, {"Retry-After": "1"}), (429, {"Retry-After": "2"}), 200], host="contoso.crm.dynamics.com")
    first = requests.get(WHOAMI, headers=bearer(token), timeout=5)
    assert first.status_code == 503 and first.headers["Retry-After"] == "1" and "error" in first.json()
    second = requests.get(WHOAMI, headers=bearer(token), timeout=5)
    assert second.status_code == 429 and second.json()["error"]["code"] == "0x80072322"
    assert requests.get(WHOAMI, headers=bearer(token), timeout=5).status_code == 200

    sim.set_responses([503], path=TOKEN_PATH)
    entra = post_token(contoso.tenant.tenant_id, {"grant_type": "client_credentials"})
    assert entra.status_code == 503 and entra.json()["error"] == "temporarily_unavailable"


def test_delay_drop_silent_redirect(sim, contoso):
    sim.set_delay(0.3, host="contoso.crm.dynamics.com", times=1)
    started = time.monotonic()
    requests.get(WHOAMI, timeout=5)
    assert time.monotonic() - started >= 0.3

    sim.set_drop(host="contoso.crm.dynamics.com", times=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(WHOAMI, timeout=5)

    sim.set_silent(path="WhoAmI", times=1)
    with pytest.raises(requests.ReadTimeout):
        requests.get(WHOAMI, timeout=0.3)

    sim.set_redirect("https://evil.example/", host="login.microsoftonline.com")
    moved = requests.get(
        "https://login.microsoftonline.com/x/v2.0/.well-known/openid-configuration", allow_redirects=False, timeout=5
    )
    assert moved.status_code == 302 and moved.headers["Location"] == "https://evil.example/"
    sim.clear_knobs()
    assert requests.get(WHOAMI, timeout=5).status_code == 401


def test_keep_alive_reuses_connection(sim, contoso):
    with requests.Session() as session:
        for _ in range(3):
            session.get(WHOAMI, timeout=5)
    requests.get(WHOAMI, timeout=5)
    assert sim.count(host="contoso.crm.dynamics.com") == 4
    assert sim.connection_count(host="contoso.crm.dynamics.com") == 2


def test_stop_is_prompt_with_silent_connections(monkeypatch):
    from tests.simulator.conftest import route_to

    own = Simulator()
    route_to(own, monkeypatch)
    own.set_silent()
    with pytest.raises(requests.ReadTimeout):
        requests.get(WHOAMI, timeout=0.2)
    started = time.monotonic()
    own.stop()
    assert time.monotonic() - started < 1


def test_demo_scenario_command():
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.simulator", "--port", "0", "--scenario", "demo"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(6)]
    finally:
        process.terminate()
        process.wait(timeout=5)
    text = "".join(lines)
    for label in ("CA certificate", "tenant id", "client id", "secret value"):
        assert re.search(rf"^{label}: +\S+$", text, re.MULTILINE), text
    assert re.search(r"^environment URL: +https://contoso.crm.dynamics.com/$", text, re.MULTILINE)
