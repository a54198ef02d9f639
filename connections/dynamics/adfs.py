"""Tokens from an organization's AD FS (2016 or newer) for an on-premises Dynamics CRM server, with msal.

The client credentials grant of an AD FS server application, asking with `resource=` for the relying party
AD FS knows the CRM server by. msal treats an authority ending in /adfs as AD FS: it reads
`{authority}/.well-known/openid-configuration` and skips Entra's instance discovery.
"""

import re

import msal
import requests

from connections.dynamics import entra, http
from connections.dynamics.errors import Advice, CheckError

_MSIS = re.compile(r"MSIS(\d+)")

# MSIS code (or, without one, the OAuth error) -> what happened and what to do.
ADFS_ADVICE: dict[int | str, Advice] = {
    9607: Advice(
        "adfs_unknown_client",
        "AD FS does not know this Client ID",
        "Enter the Client Identifier of the AD FS server application (AD FS Management > Application Groups > "
        "your application group > the Server application).",
    ),
    9622: Advice(
        "adfs_invalid_secret",
        "AD FS rejected the Client Secret",
        "Enter the secret of the AD FS server application (Application Groups > your application group > "
        "Server application > Reset secret: AD FS shows a secret only when it generates it).",
    ),
    9602: Advice(
        "adfs_unknown_resource",
        "AD FS does not know the relying party {resource}",
        "Set the AD FS Resource to an identifier of the Dynamics CRM relying party trust (AD FS Management > "
        "Relying Party Trusts > the CRM trust > Properties > Identifiers), like https://auth.crm.contoso.com/.",
    ),
    9605: Advice(
        "adfs_not_permitted",
        "The AD FS server application may not get tokens for {resource}",
        "On the AD FS server run Grant-AdfsApplicationPermission -ClientRoleIdentifier <Client ID> "
        "-ServerRoleIdentifier <AD FS Resource> -ScopeNames openid.",
    ),
}
ADFS_ADVICE["invalid_resource"] = ADFS_ADVICE[9602]
ADFS_ADVICE["unauthorized_client"] = ADFS_ADVICE[9605]


def msis_code(body: dict) -> int | None:
    match = _MSIS.search(str(body.get("error_description", "")))
    return int(match.group(1)) if match else None


def adfs_error(body: dict, resource: str, status: int | None = None) -> CheckError:
    """A CheckError for an AD FS error body ({"error": ..., "error_description": "MSISnnnn: ..."})."""
    code = msis_code(body)
    description = str(body.get("error_description") or body.get("error") or "no error description")
    details = {"adfs_says": description[:500]}
    if body.get("error"):
        details["error"] = str(body["error"])
    if status:
        details["http_status"] = str(status)
    advice = ADFS_ADVICE.get(code) or ADFS_ADVICE.get(str(body.get("error", "")))
    if advice is not None:
        label = f"MSIS{code}" if code else str(body.get("error"))
        return CheckError(advice.code, f"{advice.message.format(resource=resource)} ({label}).", advice.hint, details)
    return CheckError(
        "adfs_error",
        f"AD FS refused the token request{f' (HTTP {status})' if status else ''}: {description[:300]}",
        "Check the Client ID and Client Secret of the AD FS server application, and the AD FS Resource; "
        "the AD FS server's event log (AD FS > Admin) has the details.",
        details,
    )


def acquire_token(adfs_url: str, client_id: str, secret: str, resource: str) -> entra.Token:
    """A token for `resource` from the AD FS at `adfs_url` (https://host/adfs); CheckError when refused."""
    key = ("adfs", adfs_url, client_id, entra.credential_fingerprint(secret), resource)
    app = entra.apps.get(key) or _build_app(adfs_url, client_id, secret)
    try:
        result = app.acquire_token_for_client(scopes=[], data={"resource": resource})
    except (msal.exceptions.MsalError, requests.HTTPError, ValueError) as error:
        entra.apps.discard(key)
        raise _unexpected_answer(adfs_url, resource) from error
    if "access_token" in result:
        entra.apps.put(key, app)
        return entra.Token(result["access_token"], from_cache=result.get("token_source") == "cache")
    entra.apps.discard(key)  # msal would replay the refusal after the admin fixed it
    failed = entra.last_failed_exchange()
    raise adfs_error(result, resource, failed.status if failed else None)


def _build_app(adfs_url: str, client_id: str, secret: str) -> msal.ConfidentialClientApplication:
    try:
        return msal.ConfidentialClientApplication(
            client_id,
            client_credential=secret,
            authority=adfs_url,
            instance_discovery=False,
            http_client=http.client,
            token_cache=msal.TokenCache(),
        )
    except ValueError as error:  # msal's answer to a discovery document it could not read
        failed = entra.last_failed_exchange()
        status = f" (HTTP {failed.status})" if failed else ""
        raise CheckError(
            "adfs_not_found",
            f"No AD FS answered at {adfs_url}/.well-known/openid-configuration{status}.",
            "Check the AD FS Server: the federation service's address, like https://adfs.contoso.com/adfs "
            "(AD FS 2016 or newer, with OpenID Connect discovery).",
        ) from error


def _unexpected_answer(adfs_url: str, resource: str) -> CheckError:
    failed = entra.last_failed_exchange()
    if failed is not None and failed.error_body:
        return adfs_error(failed.error_body, resource, failed.status)
    status = f"HTTP {failed.status}" if failed else "an unreadable answer"
    return CheckError(
        "adfs_error",
        f"AD FS at {adfs_url} answered the token request with {status}.",
        "Check the AD FS server's health (AD FS > Admin event log) and TEST again.",
        {"http_status": str(failed.status)} if failed else {},
    )
