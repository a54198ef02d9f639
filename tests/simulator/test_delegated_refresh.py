"""The user (delegated) side: refresh tokens, their rotation, expiry and revocation, via msal."""

from __future__ import annotations

import time

import pytest
import requests
import time_machine

from tests.simulator.conftest import USER_SCOPE
from tests.simulator.test_delegated import TOKEN_PATH, claims, signed_in, whoami

pytestmark = pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended:UserWarning")


def silent(app) -> dict:
    [account] = app.get_accounts()
    return app.acquire_token_silent_with_error([USER_SCOPE], account)


def refresh_directly(maria, refresh_token: str) -> requests.Response:
    url = f"https://login.microsoftonline.com/{maria.tenant.tenant_id}{TOKEN_PATH}"
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": maria.app.client_id,
        "client_secret": maria.secret.value,
        "scope": f"{USER_SCOPE} offline_access openid profile",
    }
    return requests.post(url, data=form, timeout=5)


def test_short_lived_access_token_is_refreshed_with_rotation(sim, maria):
    sim.set_access_token_lifetime(60)  # msal treats < 5 minutes as expired: every silent call refreshes
    app, first = signed_in(maria)
    oid = maria.person.object_id
    assert first["expires_in"] == 60 and sim.refresh_count(oid) == 0
    second = silent(app)
    third = silent(app)
    assert len({first["access_token"], second["access_token"], third["access_token"]}) == 3
    assert sim.refresh_count(oid) == 2 and sim.refresh_count() == 2
    issued = sim.issued_refresh_tokens(oid)
    assert len(issued) == 3 and issued[1].parent == issued[0].value and issued[2].parent == issued[1].value
    assert sim.newest_refresh_token(oid) == issued[-1].value
    assert "nonce" not in claims(third["id_token"])  # only the code grant's ID token carries it
    assert whoami(third["access_token"]).json()["UserId"] == maria.member.user_id
    # Entra's default: exchanged refresh tokens keep working
    assert refresh_directly(maria, issued[0].value).status_code == 200


def test_refresh_without_rotation_keeps_one_refresh_token(sim, maria):
    sim.set_access_token_lifetime(60)
    sim.set_refresh_token_rotation(rotate=False)
    app, _ = signed_in(maria)
    for _ in range(3):
        assert "access_token" in silent(app)
    assert sim.refresh_count(maria.person.object_id) == 3
    assert len(sim.issued_refresh_tokens(maria.person.object_id)) == 1
    assert "refresh_token" not in refresh_directly(maria, sim.newest_refresh_token()).json()


def test_time_travel_makes_msal_refresh(sim, maria):
    app, first = signed_in(maria)
    assert silent(app)["access_token"] == first["access_token"] and sim.refresh_count() == 0
    with time_machine.travel(time.time() + 3400, tick=True):  # 199 s left: msal refreshes
        refreshed = silent(app)
        assert refreshed["access_token"] != first["access_token"] and sim.refresh_count() == 1
        assert claims(refreshed["access_token"])["iat"] >= int(sim.now()) - 5  # the simulator travelled too
        assert whoami(refreshed["access_token"]).status_code == 200
    assert whoami(refreshed["access_token"]).status_code == 401  # back home, it is not valid yet


def test_revoked_refresh_token_then_sign_in_again(sim, maria):
    sim.set_access_token_lifetime(60)
    app, _ = signed_in(maria)
    sim.revoke_refresh_tokens(maria.person.object_id)
    result = silent(app)
    assert result["error"] == "invalid_grant" and result["error_codes"] == [50173]
    assert (
        "The provided grant has expired due to it being revoked, a fresh auth token is needed."
        in (result["error_description"])
    )
    assert (
        "and the TokensValidFrom date (before which tokens are not valid) for this user is '"
        in (result["error_description"])
    )
    assert [g.error_code for g in sim.refresh_grants(maria.person.object_id)] == [50173]
    app, again = signed_in(maria, app=app)
    assert "access_token" in again and "access_token" in silent(app)


def test_inactive_refresh_token_expires(sim, maria):
    sim.set_access_token_lifetime(60)
    sim.set_refresh_token_lifetime(3600)
    app, _ = signed_in(maria)
    sim.advance(1800)
    assert "access_token" in silent(app)  # used: the new refresh token's hour starts now
    sim.advance(3601)
    result = silent(app)
    assert result["error"] == "invalid_grant" and result["error_codes"] == [700082]
    assert "The refresh token has expired due to inactivity. The token was issued on " in result["error_description"]
    assert "and was inactive for 01:00:00." in result["error_description"]


def test_rotation_revoking_the_old_refresh_token(sim, maria):
    sim.set_access_token_lifetime(60)
    sim.set_refresh_token_rotation(revoke_old=True)
    app, first = signed_in(maria)
    assert "access_token" in silent(app)
    old = refresh_directly(maria, first["refresh_token"])
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant" and old.json()["error_codes"] == [70008]
    assert sim.issued_refresh_tokens()[0].rotated_out
    assert "access_token" in silent(app)  # msal holds the newest one
    assert refresh_directly(maria, "0.Anot-a-refresh-token").json()["error_codes"] == [9002313]


def test_interaction_required_until_the_user_signs_in_again(sim, maria):
    sim.set_access_token_lifetime(60)
    app, _ = signed_in(maria)
    sim.require_interaction(maria.person.object_id)
    result = silent(app)
    assert result["error"] == "invalid_grant" and result["error_codes"] == [50076]
    assert result["suberror"] == "basic_action" and result["classification"] == "basic_action"
    assert (
        "you must use multi-factor authentication to access '00000007-0000-0000-c000-000000000000'"
        in result["error_description"]
    )
    app, again = signed_in(maria, app=app)
    assert "access_token" in again and "access_token" in silent(app)


def test_consent_withdrawn_after_sign_in(sim, maria):
    sim.set_access_token_lifetime(60)
    app, _ = signed_in(maria)
    sim.require_admin_consent(maria.app.client_id)
    result = silent(app)
    assert result["error_codes"] == [65001] and result["classification"] == "consent_required"
