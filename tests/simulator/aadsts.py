"""Entra (AADSTS) errors: the exception handlers raise, the texts, and the JSON body.

Wordings are Entra's as seen in real responses (2022-2026); the ones an admin meets
are exposed as constants so tests can match on them.
"""

from __future__ import annotations

import datetime as dt
import uuid

from . import federation_messages as federation
from .messages import Response

CERT_DOCS = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"

TENANT_NOT_FOUND = (
    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
    "signing into the correct cloud. Check with your subscription administrator, this may happen "
    "if there are no active subscriptions for the tenant."
)
APP_NOT_FOUND = (
    "Application with identifier '{client_id}' was not found in the directory '{tenant_name}'. "
    "This can happen if the application has not been installed by the administrator of the tenant "
    "or consented to by any user in the tenant. You may have sent your authentication request to "
    "the wrong tenant."
)
INVALID_SECRET = (
    "Invalid client secret provided. Ensure the secret being sent in the request is the client "
    "secret value, not the client secret ID, for a secret added to app '{client_id}'."
)
EXPIRED_SECRET = (
    "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to "
    "create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate "
    "credentials for added security: https://aka.ms/certCreds."
)
APP_DISABLED = "Application '{client_id}'({name}) is disabled."
NO_CREDENTIAL = "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
MISSING_PARAMETER = "The request body must contain the following parameter: '{name}'."
POST_ONLY = "The endpoint only accepts POST requests. Received a {method} request."
UNSUPPORTED_GRANT = "The app requested an unsupported grant type '{grant_type}'."
NO_TENANT_INFO = "No tenant-identifying information found in either the request or implied by any provided credentials."
RESOURCE_NOT_FOUND = (
    "The resource principal named {resource} was not found in the tenant named {tenant_name}. "
    "This can happen if the application has not been installed by the administrator of the tenant "
    "or consented to by any user in the tenant. You might have sent your authentication request to "
    "the wrong tenant."
)
SCOPE_NOT_DEFAULT = (
    "The provided value for scope {scope} is not valid. Client credential flows must have a scope "
    "value with /.default suffixed to the resource identifier (application ID URI)."
)
SCOPE_INVALID = "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
MALFORMED_JWT = "JWT token is invalid or malformed."
ASSERTION_APP_MISMATCH = (
    f"Client assertion application identifier doesn't match 'client_id' parameter. "
    f"Review the documentation at {CERT_DOCS} ."
)
ASSERTION_AUDIENCE = (
    f"Client assertion audience claim does not match Realm issuer. Review the documentation at {CERT_DOCS} ."
)
ASSERTION_TIME = (
    "Client assertion is not within its valid time range. Current time: {now}, assertion valid from "
    "{nbf}, expiry time of assertion {exp}. Review the documentation at " + CERT_DOCS + " ."
)
CERT_NOT_REGISTERED = (
    "The certificate with identifier used to sign the client assertion is not registered on "
    "application. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', "
    "Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for "
    "app Id '{client_id}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments "
    "to determine the corresponding service endpoint and "
    "https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a "
    "query request URL, such as 'https://graph.microsoft.com/beta/applications/{client_id}']."
)
CERT_EXPIRED = (
    "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of "
    "key used by client: '{thumbprint}', Found key 'Start={start}, End={end}']."
)
BAD_SIGNATURE = (
    "Client assertion failed signature validation. [Reason - The provided signature value did not match "
    "the expected signature value., Thumbprint of key used by client: '{thumbprint}', Found key "
    "'Start={start}, End={end}']."
)
# --- delegated (user) sign-in: the authorize endpoint and the code / refresh-token grants ---
REDIRECT_MISMATCH = (
    "The redirect URI '{uri}' specified in the request does not match the redirect URIs configured for the "
    "application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your "
    "application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about "
    "how to fix this."
)
NO_REPLY_ADDRESS = "No reply address is registered for the application."
REPLY_ADDRESS_CHANGED = (
    "The reply address '{given}' does not match the reply address '{expected}' provided when requesting "
    "Authorization code."
)
PARAMETER_NOT_VALID = "{name} parameter is empty or not valid."
CHALLENGE_SIZE = "Invalid size of Code_Challenge parameter."
RESPONSE_TYPE_NOT_ENABLED = "response_type '{response_type}' is not enabled for the application."
RESPONSE_MODE_UNSUPPORTED = "The response_mode '{mode}' is not supported for this request."
SILENT_NO_USER = "A silent sign-in request was sent but no user is signed in."
USER_DECLINED = "User declined to consent to access the app."
USER_NOT_FOUND = (
    "The user account {upn} does not exist in the '{tenant_name}' directory. To sign into this application, "
    "the account must be added to the directory."
)
NOT_CONSENTED = (
    "The user or administrator has not consented to use the application with ID '{client_id}' named "
    "'{app_name}'. Send an interactive authorization request for this user and resource."
)
CODE_REDEEMED = (
    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing "
    "refresh token."
)
GRANT_EXPIRED = (
    "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive "
    "authorization request for this user and resource."
)
REFRESH_INACTIVE = (
    "The refresh token has expired due to inactivity. The token was issued on {issued} and was inactive for {span}."
)
GRANT_REVOKED = (
    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have "
    "changed or reset their password. The grant was issued on '{auth_time}' and the TokensValidFrom date "
    "(before which tokens are not valid) for this user is '{valid_from}'."
)
VERIFIER_MISMATCH = "The Code_Verifier does not match the code_challenge supplied in the authorization request."
MALFORMED_REQUEST = "Invalid request. Request is malformed or invalid."
GRANT_INVALID = "Provided grant is invalid or malformed."
CODE_OTHER_TENANT = (
    "Provided Authorization Code is intended to use against other tenant, thus rejected. OAuth2 Authorization "
    "Code must be redeemed against same tenant it was acquired for (/common or /{tenant-ID} as appropriate)"
)
MFA_REQUIRED = (
    "Due to a configuration change made by your administrator, or because you moved to a new location, you "
    "must use multi-factor authentication to access '{resource_app_id}'."
)
MULTIPLE_RESOURCES = (
    "Provided value for the input parameter scope is not valid because it contains more than one resource. "
    "Scope {scope} is not valid."
)
MFA_ENROLLMENT_REQUIRED = (
    "Due to a configuration change made by your administrator, or because you moved to a new location, you "
    "must enroll in multi-factor authentication to access '{resource_app_id}'."
)
MFA_EXPIRED = (
    "Presented multi-factor authentication has expired due to policies configured by your administrator, you "
    "must refresh your multi-factor authentication to access '{resource_app_id}'."
)
EXTERNAL_CHALLENGE = (
    "External security challenge not satisfied. User will be redirected to another page or authentication "
    "provider to satisfy additional authentication challenges."
)
BLOCKED_BY_CONDITIONAL_ACCESS = (
    "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."
)

# For statuses forced by Simulator.set_responses on an authority host.
TRANSIENT = "A transient error has occurred. Please try again."
THROTTLED = "There are too many incoming requests. Please try again later."


class EntraError(Exception):
    """An AADSTS error; raised by validation code, turned into a response by the router."""

    def __init__(self, status: int, error: str, code: int, text: str, suberror: str | None = None) -> None:
        super().__init__(f"AADSTS{code}: {text}")
        self.status, self.error, self.code, self.text = status, error, code, text
        self.suberror = suberror  # e.g. "consent_required", "basic_action" (sent as "suberror")


def invalid_grant(code: int, text: str, suberror: str | None = None) -> EntraError:
    return EntraError(400, "invalid_grant", code, text, suberror)


def invalid_client(code: int, text: str) -> EntraError:
    return EntraError(401, "invalid_client", code, text)


def invalid_request(code: int, text: str) -> EntraError:
    return EntraError(400, "invalid_request", code, text)


def format_timestamp(now: float) -> str:
    """``2026-10-02 21:14:02Z``, Entra's error timestamp format."""
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def format_instant(seconds: float) -> str:
    """``2024-10-02T22:05:03.6755165Z``, the format of times inside AADSTS700024."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond * 10:07d}Z"


def format_span(seconds: float) -> str:
    """``90.00:00:00`` or ``00:10:00``, how .NET prints a TimeSpan (AADSTS700082)."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    clock = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{days}.{clock}" if days else clock


def format_key_date(moment: dt.datetime) -> str:
    """``08/18/2024 19:33:23``, how AADSTS700027 shows a key's validity."""
    return moment.strftime("%m/%d/%Y %H:%M:%S")


def correlation_id_for(client_request_id: str | None) -> str:
    """Entra echoes the client's ``client-request-id`` as the correlation id."""
    try:
        return str(uuid.UUID(client_request_id or ""))
    except ValueError:
        return str(uuid.uuid4())


def response_headers(trace_id: str, correlation_id: str) -> dict[str, str]:
    return {
        "Cache-Control": "no-store, no-cache",
        "Pragma": "no-cache",
        "x-ms-request-id": trace_id,
        "client-request-id": correlation_id,
    }


def error_response(
    err: EntraError,
    *,
    host: str,
    now: float,
    client_request_id: str | None,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    """The JSON error body Entra sends, e.g. ``{"error": "invalid_client", ...}``."""
    trace_id, correlation_id = str(uuid.uuid4()), correlation_id_for(client_request_id)
    timestamp = format_timestamp(now)
    body = {
        "error": err.error,
        "error_description": (
            f"AADSTS{err.code}: {err.text} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"
        ),
        "error_codes": [err.code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://{host}/error?code={err.code}",
    }
    if err.suberror:
        body["suberror"] = err.suberror
    headers = {**response_headers(trace_id, correlation_id), **(extra_headers or {})}
    return Response.json(err.status, body, headers)


def forced_error(status: int) -> EntraError:
    """The error Entra would pair with a status forced by a knob (429, 5xx, others)."""
    if status == 429:
        return EntraError(status, "temporarily_unavailable", 90055, THROTTLED)
    if status >= 500:
        return EntraError(status, "temporarily_unavailable", 90033, TRANSIENT)
    return EntraError(status, "invalid_request", 90033, f"HTTP {status} forced by the simulator.")


# The errors Simulator.set_aadsts makes the token endpoint answer with, for situations the directory cannot
# reach by itself: code -> (HTTP status, error, description, suberror), as Microsoft sends them.
DOCUMENTED: dict[int, tuple[int, str, str, str | None]] = {
    7000112: (400, "unauthorized_client", APP_DISABLED, None),
    700023: (401, "invalid_client", ASSERTION_AUDIENCE, None),
    50027: (400, "invalid_request", MALFORMED_JWT, None),
    70011: (400, "invalid_scope", SCOPE_INVALID, None),
    1002012: (400, "invalid_scope", SCOPE_NOT_DEFAULT, None),
    65001: (400, "invalid_grant", NOT_CONSENTED, "consent_required"),
    70000: (400, "invalid_grant", GRANT_INVALID, None),
    54005: (400, "invalid_grant", CODE_REDEEMED, None),
    50076: (400, "invalid_grant", MFA_REQUIRED, "basic_action"),
    50078: (400, "invalid_grant", MFA_EXPIRED, "basic_action"),
    50079: (400, "invalid_grant", MFA_ENROLLMENT_REQUIRED, "basic_action"),
    50158: (400, "interaction_required", EXTERNAL_CHALLENGE, None),
    53003: (400, "invalid_grant", BLOCKED_BY_CONDITIONAL_ACCESS, "message_only"),
    500112: (400, "invalid_grant", REPLY_ADDRESS_CHANGED, None),
    70021: (401, "invalid_client", federation.NO_MATCHING_RECORD, None),
    700211: (401, "invalid_client", federation.NO_RECORD_FOR_ISSUER, None),
    700212: (401, "invalid_client", federation.NO_RECORD_FOR_AUDIENCE, None),
    700213: (401, "invalid_client", federation.NO_RECORD_FOR_SUBJECT, None),
    7000272: (401, "invalid_client", federation.KEY_NOT_IN_METADATA, None),
    50166: (400, "invalid_request", federation.OIDC_ENDPOINT_FAILED, None),
    90061: (400, "invalid_request", federation.OIDC_ENDPOINT_FAILED, None),
}
DYNAMICS_CRM_APP_ID = "00000007-0000-0000-c000-000000000000"


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def documented_error(code: int, form: dict[str, str], app_name: str = "") -> EntraError:
    """AADSTS``code`` of :data:`DOCUMENTED`, its description filled in from the token request's form."""
    status, error, text, suberror = DOCUMENTED[code]
    scope = form.get("scope", "")
    values = _Blank(
        client_id=form.get("client_id", ""),
        name=app_name,
        app_name=app_name,
        scope=scope,
        resource_app_id=DYNAMICS_CRM_APP_ID,
        given=form.get("redirect_uri", ""),
        expected=form.get("redirect_uri", ""),
        **federation.presented_values(form),  # issuer, subject, audience, key_id of a federated assertion
    )
    return EntraError(status, error, code, text.format_map(values), suberror)
