"""When the connection's own app credential expires, read from Microsoft Graph ("Get application").

With the app's own credential, an app-only token for `https://{graph host}/.default` (the same msal application as
the Dataverse token, so no second discovery), then `GET /v1.0/applications(appId='{client id}')` selecting
passwordCredentials and keyCredentials. A client secret is found by its `hint` (its first three characters), a
certificate by its thumbprint (`customKeyIdentifier`, hex or base64 of the SHA-1 bytes). Every refusal is a
CheckError with its own advice; the flow reports it as a warning, never as a failed TEST.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from connections.dynamics import entra, http
from connections.dynamics.answers import redirect_refused, throttled
from connections.dynamics.certificates import CertificateCredential
from connections.dynamics.clouds import Cloud
from connections.dynamics.errors import CheckError

MAX_BODY_BYTES = 1024 * 1024
WARN_DAYS = 30  # a credential that ends within this many days is a warning (and the first level of the digest)
RENEW_HINT = (
    "Add a new client secret (or certificate) under Certificates & secrets on the app registration, then add it on "
    "the connection page's Credentials panel (Add a new secret), TEST it and Promote it: the connection keeps "
    "working with the current one meanwhile."
)
SELECT = "$select=passwordCredentials,keyCredentials"
GRANT_HINT = (
    "To let the TEST read it, grant the app Microsoft Graph's Application.Read.All application permission: Microsoft "
    "Entra admin center > App registrations > the app > API permissions > Add a permission > Microsoft Graph > "
    "Application permissions > Application.Read.All, then Grant admin consent (a token issued before the grant "
    "keeps working without it for up to an hour). Or type the secret's expiry date from the portal's "
    "Certificates & secrets > Expires column into the connection (Secret expires)."
)
TYPE_IT_HINT = (
    "Type the secret's expiry date from the portal's Certificates & secrets > Expires column into the connection "
    "(Secret expires)."
)


# Graph's answers that stay the same until an admin changes something (a permission, the app registration): a TEST
# remembers them this long and asks again only after, so an app without Application.Read.All does not cost every
# cold TEST a third request to Entra ID.
REMEMBERED_REFUSALS = ("expiry_forbidden",)
REFUSAL_REMEMBERED_HOURS = 1


@dataclass(frozen=True)
class KnownExpiry:
    """A reading the caller stored and finds fresh enough: the TEST reports it and sends no request. `expires_at`
    None: Graph refused (403, no Application.Read.All) when it was last asked."""

    expires_at: datetime | None
    read_at: datetime


@dataclass(frozen=True)
class ExpiryReading:
    """What Microsoft Graph said about the credential: its end, and which one it is (a hint or a thumbprint)."""

    expires_at: datetime | None  # None: Graph refused (`refusal`), remembered for REFUSAL_REMEMBERED_HOURS
    credential: str  # "secret:" + the secret's hint, or "certificate:" + the SHA-1 thumbprint (hex)
    read_at: datetime
    note: str = ""  # e.g. several secrets share the hint
    refusal: str = ""


def credential_key(credential) -> str:
    """Which credential a reading describes: "secret:" + its hint (first three characters) or "certificate:" + its
    thumbprint. Never more of the secret than Microsoft itself shows."""
    if isinstance(credential, CertificateCredential):
        return f"certificate:{credential.sha1}"
    return f"secret:{credential[:3]}"


def refused(error: CheckError, credential) -> ExpiryReading | None:
    """The refusal to remember, when Graph's answer will not change before an admin acts."""
    if error.code not in REMEMBERED_REFUSALS:
        return None
    return ExpiryReading(None, credential_key(credential), datetime.now(UTC), refusal=error.code)


def read(cloud: Cloud, tenant: str, client_id: str, credential) -> ExpiryReading:
    """Ask Microsoft Graph for the app's credentials and find this one; CheckError when that cannot be done."""
    try:
        token = entra.acquire_token(cloud, tenant, client_id, credential, f"https://{cloud.graph_host}")
    except CheckError as error:
        error.message = f"Microsoft Entra ID gave no token for Microsoft Graph: {error.message}"
        raise
    application = _get_application(cloud, client_id, token.access_token)
    if isinstance(credential, CertificateCredential):
        return find_certificate(application.get("keyCredentials") or [], credential.sha1)
    return find_secret(application.get("passwordCredentials") or [], credential[:3])


def find_secret(password_credentials: list, hint: str) -> ExpiryReading:
    """The secret whose hint is `hint`; when several share it, the earliest end (and a note saying so)."""
    ends = sorted(
        end
        for item in password_credentials
        if isinstance(item, dict) and item.get("hint") == hint and (end := _date(item.get("endDateTime")))
    )
    if not ends:
        raise CheckError(
            "expiry_secret_not_found",
            "Microsoft Graph lists none of the app's client secrets as this one (no secret has its first three "
            "characters): it may have been deleted in the portal.",
            "Check Certificates & secrets on the app registration. " + TYPE_IT_HINT,
        )
    note = f"{len(ends)} of the app's secrets begin like this one: the earliest end is shown." if len(ends) > 1 else ""
    return ExpiryReading(ends[0], f"secret:{hint}", datetime.now(UTC), note)


def find_certificate(key_credentials: list, sha1_hex: str) -> ExpiryReading:
    """The certificate whose customKeyIdentifier is this thumbprint (as hex, or base64 of its bytes)."""
    wanted = sha1_hex.upper()
    ends = sorted(
        end
        for item in key_credentials
        if isinstance(item, dict)
        and _thumbprint(item.get("customKeyIdentifier")) == wanted
        and (end := _date(item.get("endDateTime")))
    )
    if not ends:
        raise CheckError(
            "expiry_certificate_not_found",
            "Microsoft Graph lists none of the app's certificates with this certificate's thumbprint.",
            "Check Certificates & secrets > Certificates on the app registration: upload this certificate there.",
        )
    return ExpiryReading(ends[0], f"certificate:{wanted}", datetime.now(UTC))


def _thumbprint(identifier) -> str:
    """customKeyIdentifier as upper-case hex: given as the hex thumbprint, or as base64 of its 20 bytes."""
    if not isinstance(identifier, str) or not identifier:
        return ""
    text = identifier.strip()
    if len(text) == 40 and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.upper()
    try:
        return base64.b64decode(text, validate=True).hex().upper()
    except (binascii.Error, ValueError):
        return ""


def _date(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _get_application(cloud: Cloud, client_id: str, access_token: str) -> dict:
    url = f"https://{cloud.graph_host}/v1.0/applications(appId='{client_id}')?{SELECT}"
    headers = {"Accept": "application/json", "Authorization": f"Bearer {access_token}"}
    response = http.client.get(url, headers=headers, stream=True)
    with response:
        raw = response.raw.read(MAX_BODY_BYTES + 1, decode_content=True)
    if 300 <= response.status_code < 400:
        raise redirect_refused(
            response.headers.get("Location", ""), "Microsoft Graph does not redirect; check the proxy."
        )
    if response.status_code != 200:
        raise graph_error(response.status_code, _error_code(raw), response.headers.get("request-id", ""))
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise _unreadable() from error
    if not isinstance(body, dict):
        raise _unreadable()
    return body


def graph_error(status: int, code: str, request_id: str = "") -> CheckError:
    """What Microsoft Graph's refusal of "Get application" means, and what to do."""
    details = {"http_status": str(status), **({"graph_code": code} if code else {})}
    if request_id:
        details["request_id"] = request_id
    if status == 403:
        return CheckError(
            "expiry_forbidden",
            "Microsoft Graph refused to list the app's credentials: the app lacks the Application.Read.All "
            "application permission.",
            GRANT_HINT,
            details,
        )
    if status == 404:
        return CheckError(
            "expiry_app_not_found",
            "Microsoft Graph does not find the app registration in this tenant (HTTP 404).",
            "The Client ID must be an app registered in the AzureTenant itself (not a multi-tenant app from "
            "another tenant). " + TYPE_IT_HINT,
            details,
        )
    if status == 401:
        return CheckError(
            "expiry_unauthorized",
            "Microsoft Graph did not accept the token from Microsoft Entra ID (HTTP 401).",
            "Check that the Azure Environment is the cloud of the tenant. " + TYPE_IT_HINT,
            details,
        )
    if status in (429, 503):
        return throttled("Microsoft Graph", status, "https://status.azure.com", details)
    return CheckError(
        "expiry_graph_error",
        f"Microsoft Graph answered the request for the app's credentials with HTTP {status}.",
        "Microsoft Graph may be having an outage: check https://status.azure.com. " + TYPE_IT_HINT,
        details,
    )


def _error_code(raw: bytes) -> str:
    try:
        return str(json.loads(raw).get("error", {}).get("code", ""))
    except (ValueError, AttributeError):
        return ""


def _unreadable() -> CheckError:
    return CheckError(
        "expiry_graph_error",
        "Microsoft Graph answered the request for the app's credentials, but not with the application's JSON.",
        "Check the proxy between this server and Microsoft Graph. " + TYPE_IT_HINT,
    )
