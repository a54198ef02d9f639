"""AuthScheme=AzureAD (delegated): sign in once with the authorization-code flow, then refresh by itself.

msal does PKCE, state and nonce; its serialized token cache (refresh token included) is handed back to
the caller to be stored encrypted. Like the rest of this package, nothing here touches the database.
"""

from dataclasses import dataclass

import msal

from connections.dynamics import entra
from connections.dynamics.clouds import Cloud
from connections.dynamics.errors import CheckError, aadsts_code, entra_error

# Discovery documents shared by the short-lived apps built per sign-in and per TEST.
_http_cache: dict = {}

# Refresh failures that only a new interactive sign-in can cure.
SIGN_IN_AGAIN_CODES = {700082, 50173, 70008, 70000, 54005, 50076, 50079, 50158, 65001, 50078, 53003}
SIGN_IN_AGAIN_HINT = "Click “Sign in again” and sign in with an account that can use this Dataverse environment."


def scopes_for(org_url: str) -> list[str]:
    """The delegated scope; msal adds openid, profile and offline_access (the refresh token) itself."""
    return [org_url.rstrip("/") + "/user_impersonation"]


@dataclass(frozen=True)
class SignedIn:
    token_cache: str
    name: str
    username: str
    tenant_id: str


@dataclass(frozen=True)
class DelegatedToken:
    access_token: str
    from_cache: bool
    token_cache: str | None  # the updated cache when msal refreshed, else None

    def __repr__(self) -> str:
        return f"DelegatedToken(from_cache={self.from_cache})"


def _app(cloud: Cloud, tenant: str, client_id: str, credential, cache: msal.SerializableTokenCache):
    return entra.build_app(cloud, tenant, client_id, credential, token_cache=cache, http_cache=_http_cache)


def start(cloud: Cloud, tenant: str, client_id: str, credential, org_url: str, redirect_uri: str) -> dict:
    """Begin a sign-in: the flow to keep server-side (PKCE verifier, state, nonce) and its auth_uri."""
    app = _app(cloud, tenant, client_id, credential, msal.SerializableTokenCache())
    # form_post keeps the code out of the browser's history and Referer (RFC 9700, 4.3.1).
    return app.initiate_auth_code_flow(
        scopes_for(org_url), redirect_uri=redirect_uri, prompt="select_account", response_mode="form_post"
    )


def finish(cloud: Cloud, tenant: str, client_id: str, credential, flow: dict, response: dict) -> SignedIn:
    """Redeem the code Entra sent to the callback; raise CheckError explaining any refusal."""
    cache = msal.SerializableTokenCache()
    app = _app(cloud, tenant, client_id, credential, cache)
    try:
        result = app.acquire_token_by_auth_code_flow(flow, response)
    except ValueError as error:
        raise CheckError(
            "state_mismatch",
            "The sign-in answer does not belong to the sign-in this page started.",
            "Start again with “Sign in with Microsoft”.",
        ) from error
    if "error" in result:
        raise sign_in_error(result, cloud.name)
    claims = result.get("id_token_claims") or {}
    return SignedIn(
        token_cache=cache.serialize(),
        name=str(claims.get("name", "")),
        username=str(claims.get("preferred_username") or claims.get("upn") or ""),
        tenant_id=str(claims.get("tid", "")),
    )


def acquire(cloud: Cloud, tenant: str, client_id: str, credential, org_url: str, token_cache: str) -> DelegatedToken:
    """A delegated token from the stored cache, refreshing it when the access token has (nearly) expired."""
    if not token_cache:
        raise _not_signed_in()
    cache = msal.SerializableTokenCache()
    cache.deserialize(token_cache)
    app = _app(cloud, tenant, client_id, credential, cache)
    accounts = app.get_accounts()
    if not accounts:
        raise _not_signed_in()
    result = app.acquire_token_silent_with_error(scopes_for(org_url), account=accounts[0])
    if not result:
        raise _not_signed_in()
    if "access_token" not in result:
        raise refresh_error(result, cloud.name)
    changed = cache.serialize() if cache.has_state_changed else None
    return DelegatedToken(result["access_token"], result.get("token_source") == "cache", changed)


def _not_signed_in() -> CheckError:
    return CheckError(
        "sign_in_required",
        "No one has signed in to Microsoft for this connection yet (AuthScheme AzureAD).",
        "Click “Sign in with Microsoft” on the connection's page; the refresh token is then kept and used by itself.",
    )


def refresh_error(result: dict, cloud: str) -> CheckError:
    """A refused refresh: sign in again when only a person can fix it."""
    code = aadsts_code(result)
    if result.get("error") in ("invalid_grant", "interaction_required") or code in SIGN_IN_AGAIN_CODES:
        error = entra_error(result, cloud)
        reason = {
            700082: "The stored sign-in expired after a long time without use",
            50173: "The stored sign-in was revoked (a password change or an administrator's action)",
        }.get(code, "Microsoft Entra ID refused to refresh the stored sign-in")
        suffix = f" (AADSTS{code})" if code else f" ({result.get('error')})"
        return CheckError("sign_in_required", f"{reason}{suffix}.", SIGN_IN_AGAIN_HINT, error.details)
    return entra_error(result, cloud)


def sign_in_error(result: dict, cloud: str) -> CheckError:
    """Errors Entra returns to the callback (or at code redemption), explained for an admin."""
    code = aadsts_code(result)
    error = result.get("error", "")
    details = entra_error(result, cloud).details
    if error == "access_denied" and code in (None, 65004):
        return CheckError(
            "cancelled", "The sign-in was cancelled.", "Click “Sign in with Microsoft” to try again.", details
        )
    if code == 65001 or error == "consent_required":
        return CheckError(
            "consent_required",
            "The app has not been granted consent to use Dynamics CRM on behalf of users (AADSTS65001).",
            "On the app registration's API permissions page, add the Dynamics CRM delegated permission "
            "user_impersonation and click “Grant admin consent” for the tenant.",
            details,
        )
    if code in (50011, 500112, 500113):
        return CheckError(
            "redirect_uri_mismatch",
            f"The redirect URI does not match the app registration (AADSTS{code}).",
            "On the app registration's Authentication page add a Web redirect URI equal to the Callback URL "
            "shown on this connection, exactly (scheme, host, port, path and trailing slash).",
            details,
        )
    return entra_error(result, cloud)
