"""The user (delegated) side: /authorize, the sign-in page, and the authorization_code grant.

Driven through unmodified msal and requests (tests/simulator/browser.py plays the browser).
"""

from __future__ import annotations

import base64
import json
import re

import jwt
import msal
import pytest
import requests

from tests.simulator import make_certificate
from tests.simulator.browser import open_page, sign_in
from tests.simulator.conftest import ENV_URL, REDIRECT_URI, USER_SCOPE

# msal 1.39 warns unless response_mode="form_post"; these tests read the query on purpose (one uses form_post).
pytestmark = pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended:UserWarning")
WHOAMI = ENV_URL + "api/data/v9.2/WhoAmI"
TOKEN_PATH = "/oauth2/v2.0/token"


def user_app(maria, credential=None, tenant=None) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        maria.app.client_id,
        client_credential=credential or maria.secret.value,
        authority=f"https://login.microsoftonline.com/{tenant or maria.tenant.tenant_id}",
        instance_discovery=False,
        http_client=requests.Session(),
    )


def start(app, redirect_uri=REDIRECT_URI, **kwargs) -> dict:
    kwargs.setdefault("response_mode", "query")
    return app.initiate_auth_code_flow([USER_SCOPE], redirect_uri=redirect_uri, **kwargs)


def signed_in(maria, app=None, **kwargs) -> tuple[msal.ConfidentialClientApplication, dict]:
    app = app or user_app(maria)
    flow = start(app, **kwargs)
    answer = sign_in(flow["auth_uri"], maria.person.upn)
    return app, app.acquire_token_by_auth_code_flow(flow, answer.params)


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def whoami(access_token: str) -> requests.Response:
    return requests.get(WHOAMI, headers={"Authorization": f"Bearer {access_token}"}, timeout=5)


def test_code_flow_then_whoami_and_silent(sim, maria):
    app = user_app(maria)
    flow = start(app)
    answer = sign_in(flow["auth_uri"], "MARIA@contoso.onmicrosoft.com")
    assert answer.status == 302 and answer.location.startswith(REDIRECT_URI + "?code=")
    assert answer.params["state"] == flow["state"] and re.fullmatch(r"[0-9a-f-]{36}", answer.params["session_state"])
    result = app.acquire_token_by_auth_code_flow(flow, answer.params)

    assert result["token_type"] == "Bearer" and result["expires_in"] == result["ext_expires_in"] == 3599
    assert result["scope"] == f"{USER_SCOPE} openid profile offline_access"
    assert result["refresh_token"].startswith("0.A")
    person, tid = maria.person, maria.tenant.tenant_id
    padded = result["client_info"] + "=" * (-len(result["client_info"]) % 4)
    assert json.loads(base64.urlsafe_b64decode(padded)) == {"uid": person.object_id, "utid": tid}
    access = claims(result["access_token"])
    assert access["aud"] == "https://contoso.crm.dynamics.com" and access["iss"] == f"https://sts.windows.net/{tid}/"
    assert (access["oid"], access["upn"], access["name"], access["tid"]) == (
        person.object_id,
        person.upn,
        person.display_name,
        tid,
    )
    assert access["scp"] == "user_impersonation" and access["appid"] == access["azp"] == maria.app.client_id
    assert access["exp"] - access["iat"] == 3599 and access["idtyp"] == "user"
    identity = result["id_token_claims"]
    assert identity["aud"] == maria.app.client_id and identity["ver"] == "2.0"
    assert identity["iss"] == f"https://login.microsoftonline.com/{tid}/v2.0"
    assert identity["preferred_username"] == person.upn and identity["oid"] == person.object_id
    assert "nonce" in identity  # msal has checked it against the flow

    [account] = app.get_accounts()
    assert account["home_account_id"] == f"{person.object_id}.{tid}" and account["username"] == person.upn
    sim.clear_requests()
    silent = app.acquire_token_silent_with_error([USER_SCOPE], account)
    assert silent["access_token"] == result["access_token"] and sim.count(path_contains=TOKEN_PATH) == 0

    me = whoami(result["access_token"])
    assert me.status_code == 200 and me.json()["UserId"] == maria.member.user_id
    assert me.json()["BusinessUnitId"] == maria.env.business_unit_id
    version = requests.get(
        ENV_URL + "api/data/v9.2/RetrieveVersion()",
        headers={"Authorization": f"Bearer {result['access_token']}"},
        timeout=5,
    )
    assert version.json()["Version"] == maria.env.version
    assert sim.add_dataverse_user(ENV_URL, person.object_id).user_id == maria.member.user_id  # stable per environment


def test_sign_in_page_and_unknown_account(sim, maria):
    flow = start(user_app(maria), login_hint=maria.person.upn)
    page = open_page(flow["auth_uri"])
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert (
        "<title>Sign in to your account</title>" in html and "to continue to <strong>Gathr connector</strong>" in html
    )
    assert '<label for="i0116">Email, phone, or Skype</label>' in html
    assert f'value="{maria.person.upn}"' in html  # login_hint pre-fills the field
    assert ">Sign in</button>" in html and ">Cancel</button>" in html
    assert "http" not in re.sub(r'(action|value)="[^"]*"', "", html)  # nothing loaded from elsewhere

    wrong = sign_in(flow["auth_uri"], "nobody@contoso.onmicrosoft.com")
    assert wrong.status == 200 and not wrong.params
    assert wrong.error_message.startswith("This username may be incorrect.")
    assert "AADSTS50034: The user account nobody@contoso.onmicrosoft.com does not exist" in wrong.error_message
    empty = sign_in(flow["auth_uri"], "")
    assert empty.error_message == "Enter a valid email address, phone number, or Skype name."


def test_cancel_is_access_denied(sim, maria):
    app = user_app(maria)
    flow = start(app)
    answer = sign_in(flow["auth_uri"], maria.person.upn, cancel=True)
    assert answer.status == 302 and answer.location.startswith(
        REDIRECT_URI + "?error=access_denied&error_subcode=cancel"
    )
    assert answer.params["error_description"].startswith("AADSTS65004: User declined to consent to access the app.\r\n")
    assert answer.params["error_uri"] == "https://login.microsoftonline.com/error?code=65004"
    result = app.acquire_token_by_auth_code_flow(flow, answer.params)
    assert result["error"] == "access_denied" and "AADSTS65004" in result["error_description"]


def test_pkce_mismatch_then_the_right_verifier(sim, maria):
    app = user_app(maria)
    flow = start(app)
    answer = sign_in(flow["auth_uri"], maria.person.upn)
    verifier = flow["code_verifier"]
    flow["code_verifier"] = verifier[::-1]
    result = app.acquire_token_by_auth_code_flow(flow, answer.params)
    assert result["error"] == "invalid_grant" and result["error_codes"] == [501481]
    assert (
        "The Code_Verifier does not match the code_challenge supplied in the authorization request."
        in (result["error_description"])
    )
    flow["code_verifier"] = verifier  # a refused redemption does not use the code up
    assert "access_token" in app.acquire_token_by_auth_code_flow(flow, answer.params)


def test_code_is_single_use_and_expires(sim, maria):
    app = user_app(maria)
    flow = start(app)
    answer = sign_in(flow["auth_uri"], maria.person.upn)
    assert "access_token" in app.acquire_token_by_auth_code_flow(flow, answer.params)
    again = app.acquire_token_by_auth_code_flow(flow, answer.params)
    assert again["error"] == "invalid_grant" and again["error_codes"] == [54005]
    assert "OAuth2 Authorization code was already redeemed" in again["error_description"]

    flow = start(app)
    answer = sign_in(flow["auth_uri"], maria.person.upn)
    sim.advance(601)
    late = app.acquire_token_by_auth_code_flow(flow, answer.params)
    assert late["error_codes"] == [70008] and "has expired due to inactivity" in late["error_description"]


def test_redirect_uri_not_registered_shows_error_page(sim, maria):
    flow = start(user_app(maria), redirect_uri="https://evil.example/callback")
    page = open_page(flow["auth_uri"])
    assert page.status_code == 400 and "Location" not in page.headers
    assert "Sorry, but we&#39;re having trouble signing you in." in page.text
    message = sign_in(flow["auth_uri"], maria.person.upn).error_message
    assert message.startswith(
        "AADSTS50011: The redirect URI 'https://evil.example/callback' specified in the request does not match "
        f"the redirect URIs configured for the application '{maria.app.client_id}'."
    )


def test_redirect_uri_changed_at_redemption(sim, maria):
    sim.add_redirect_uri(maria.app.client_id, "https://gathr.example.com/other")
    app = user_app(maria)
    flow = start(app)
    answer = sign_in(flow["auth_uri"], maria.person.upn)
    flow["redirect_uri"] = "https://gathr.example.com/other"
    result = app.acquire_token_by_auth_code_flow(flow, answer.params)
    assert result["error"] == "invalid_grant" and result["error_codes"] == [500112]
    assert (
        f"The reply address 'https://gathr.example.com/other' does not match the reply address '{REDIRECT_URI}'"
        in (result["error_description"])
    )


def test_unknown_tenant_app_and_resource(sim, maria):
    base = "https://login.microsoftonline.com/{}/oauth2/v2.0/authorize?client_id={}&response_type=code&scope=openid"
    tenant_page = sign_in(base.format("fabrikam.onmicrosoft.com", maria.app.client_id), maria.person.upn)
    assert tenant_page.status == 400 and tenant_page.error_message.startswith("AADSTS90002: Tenant 'fabrikam")
    stranger = "11111111-2222-3333-4444-555555555555"
    app_page = sign_in(base.format(maria.tenant.tenant_id, stranger), maria.person.upn)
    assert app_page.error_message.startswith(f"AADSTS700016: Application with identifier '{stranger}' was not found")

    flow = user_app(maria).initiate_auth_code_flow(
        ["https://fabrikam.crm.dynamics.com/user_impersonation"], redirect_uri=REDIRECT_URI, response_mode="query"
    )
    answer = sign_in(flow["auth_uri"], maria.person.upn)
    assert answer.status == 302 and answer.params["error"] == "invalid_resource"
    assert answer.params["error_description"].startswith("AADSTS500011: The resource principal named")


def test_admin_consent_required(sim, maria):
    sim.require_admin_consent(maria.app.client_id)
    _, result = signed_in(maria)
    assert result["error"] == "invalid_grant" and result["error_codes"] == [65001]
    assert result["suberror"] == "consent_required"
    assert (
        f"The user or administrator has not consented to use the application with ID '{maria.app.client_id}' "
        "named 'Gathr connector'. Send an interactive authorization request for this user and resource."
    ) in result["error_description"]


def test_form_post_localhost_port_and_certificate(sim, maria):
    sim.add_redirect_uri(maria.app.client_id, "http://localhost/callback")
    cert = make_certificate("gathr-connector")
    sim.add_certificate(maria.app.client_id, cert.cert_pem)
    app = user_app(maria, {"private_key": cert.key_pem, "thumbprint": cert.thumbprint_sha1_hex})
    flow = start(app, redirect_uri="http://localhost:8765/callback", response_mode="form_post")
    answer = sign_in(flow["auth_uri"], maria.person.upn)
    assert answer.status == 200 and answer.location == "http://localhost:8765/callback"
    result = app.acquire_token_by_auth_code_flow(flow, answer.params)
    assert claims(result["access_token"])["appidacr"] == "2"


def test_organizations_authority(sim, maria):
    _, result = signed_in(maria, app=user_app(maria, tenant="organizations"))
    assert claims(result["access_token"])["tid"] == maria.tenant.tenant_id
    assert whoami(result["access_token"]).status_code == 200


def test_prompt_none_and_pkce_parameters(sim, maria):
    flow = start(user_app(maria), prompt="none")
    answer = sign_in(flow["auth_uri"], maria.person.upn)
    assert answer.params["error"] == "login_required" and "AADSTS50058" in answer.params["error_description"]
    bad = flow["auth_uri"].replace("code_challenge_method=S256", "code_challenge_method=S512")
    assert sign_in(bad, maria.person.upn).params["error_description"].startswith("AADSTS90100: code_challenge_method")


def test_non_member_gets_403(sim, maria):
    stranger = sim.add_user(maria.tenant.tenant_id, upn="alex@contoso.onmicrosoft.com", display_name="Alex Wilber")
    app = user_app(maria)
    flow = start(app)
    result = app.acquire_token_by_auth_code_flow(flow, sign_in(flow["auth_uri"], stranger.upn).params)
    answer = whoami(result["access_token"])
    assert answer.status_code == 403
    assert answer.json() == {
        "error": {"code": "0x80072560", "message": "The user is not a member of the organization."}
    }


@pytest.mark.parametrize("upn", ["maria@fabrikam.com", "no-at-sign"])
def test_add_user_checks_the_domain(sim, contoso, upn):
    with pytest.raises(ValueError, match="not in one of the tenant's domains"):
        sim.add_user(contoso.tenant.tenant_id, upn=upn)
