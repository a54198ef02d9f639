"""What a Dataverse or an on-premises Dynamics CRM server's HTTP error answer means, and what an admin does about it.

Every HTTP status a TEST can meet is explained here once: the Dataverse Web API's and the on-premises server's
refusals (401, 403), throttling (429, 503), redirects, and answers that are not Dynamics at all.
"""

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from connections.dynamics.errors import Advice, CheckError

DATAVERSE_URL_HINT = "Check the URL: use the Environment URL shown in the Power Platform admin center."
ONPREM_URL_HINT = (
    "Check the URL: it is the organization's root, like http://crmserver/Contoso (the organization name is "
    "the first path segment when the server hosts several organizations) or https://contoso.crm.contoso.com/."
)
_RESOURCE_ID = re.compile(r"resource_id=([^,\s]+)")


@dataclass(frozen=True)
class DataverseAnswer:
    status: int
    code: str = ""
    message: str = ""
    www_authenticate: str = ""
    details: dict = field(default_factory=dict)


def throttled(service: str, status: int, health: str, details: dict) -> CheckError:
    """A 429 or 503 the TEST could not wait out (it retries once when Retry-After fits in its time budget)."""
    wait = f" It asked to retry after {details['retry_after']} s." if details.get("retry_after") else ""
    return CheckError(
        "throttled",
        f"{service} is busy and asked to retry later (HTTP {status}).{wait}",
        f"Try again in a few minutes; if it persists, check {health}.",
        details,
    )


# Dataverse's service protection limits (per user, an application user being one, per web server, in 300 s):
# what each 429 code means, in words an admin can act on.
SERVICE_PROTECTION_CODES = {
    "0x80072322": "more than 6,000 requests from this application user in 5 minutes",
    "0x80072321": "more than 20 minutes of combined execution time for this application user in 5 minutes",
    "0x80072326": "more than 52 requests from this application user at the same time",
}


def service_protection_refused(answer: "DataverseAnswer", action: str, details: dict) -> CheckError:
    """A 429 of Dataverse's service protection limits: the integration's budget, which the TEST shares."""
    limit = SERVICE_PROTECTION_CODES[answer.code.lower()]
    again = " even after one retry" if details.get("retried") else ""
    seconds = float(details.get("retry_after") or 0)
    wait = f"; it asks to retry after {seconds:.0f} s" if seconds >= 1 else ""
    return CheckError(
        "throttled",
        f"Dataverse's service protection limits refused {action} (HTTP 429, {answer.code}: {limit}){again}{wait}.",
        "Dataverse is busy for this application user. Try again once that time has passed: the integration, or "
        "anything else signed in as this app, is using the environment's budget, and scheduled re-tests wait by "
        "themselves. If it keeps happening, spread the integration's requests over time or give it more application "
        'users (Microsoft\'s "Service protection API limits").',
        details,
    )


def redirect_refused(location: str, hint: str) -> CheckError:
    """Redirects are never followed: say where the server wanted to send the TEST."""
    target = urlsplit(location).hostname or "another address"
    return CheckError(
        "redirect_refused",
        f"The server answered with a redirect to {target}; redirects are never followed.",
        hint,
        {"redirect_host": target},
    )


# Dataverse's refusals by HTTP status (403 with 0x80072560 first: the app has no application user at all).
NO_APPLICATION_USER = Advice(
    "no_application_user",
    "The token was accepted, but the app has no application user in this Dataverse environment.",
    "In the Power Platform admin center open Environments > your environment > Settings > "
    "Users + permissions > Application users, choose New app user, select this app and its "
    "business unit, and give it a security role.",
)
# Refusals before Dataverse reads anything (Microsoft gives the texts; the codes are those Dataverse answers with).
ENVIRONMENT_REFUSALS = {
    "0x80095ffc": Advice(
        "app_blocked",
        "The environment's app access control blocks this application: Dataverse answered {action} with "
        '"Access to the Dataverse API is restricted for this application ID."',
        "In the Power Platform admin center open Security > Identity and access > App access control, choose the "
        "environment and allow this app's Client ID (it applies to signed-in users' tokens, as AzureAD uses).",
    ),
    "0x80095ffe": Advice(
        "ip_firewall",
        "The environment's IP firewall refuses this server's address: Dataverse answered {action} with "
        '"access to your IP is blocked".',
        "Ask the environment's administrator to add this server's outbound address to the allowed ranges (Power "
        "Platform admin center > Environments > the environment > Settings > Product > Privacy + Security > IP "
        'address settings), or to turn on "Allow access for all application users" for app-only connections.',
    ),
}
DATAVERSE_ADVICE = {
    403: Advice(
        "forbidden",
        "Dataverse refused {action} (HTTP 403).",
        "Give the application user a security role that allows it (Power Platform admin center > "
        "Environments > Settings > Users + permissions > Application users).",
    ),
    401: Advice(
        "dataverse_unauthorized",
        "Dataverse did not accept the token from Microsoft Entra ID (HTTP 401).",
        "Check that the URL is an environment of this tenant (AzureTenant) and that the environment "
        "is enabled, not disabled or being provisioned.",
    ),
    404: Advice("not_dataverse", "No Dataverse Web API answered at this URL (HTTP 404).", DATAVERSE_URL_HINT),
}


def dataverse_error(answer: DataverseAnswer, action: str) -> CheckError:
    """A CheckError for a Dataverse Web API error response."""
    details = {"http_status": str(answer.status), **answer.details}
    if answer.code:
        details["dataverse_code"] = answer.code
    if answer.message:
        details["dataverse_says"] = answer.message[:500]
    if answer.status == 401 and answer.www_authenticate:
        details["www_authenticate"] = answer.www_authenticate[:300]
    if answer.status == 429 and answer.code.lower() in SERVICE_PROTECTION_CODES:
        return service_protection_refused(answer, action, details)
    if answer.status in (429, 503):
        return throttled("Dataverse", answer.status, "the environment's service health", details)
    no_user = answer.status == 403 and answer.code.lower() == "0x80072560"
    advice = NO_APPLICATION_USER if no_user else DATAVERSE_ADVICE.get(answer.status)
    if answer.status == 403 and answer.code.lower() in ENVIRONMENT_REFUSALS:
        advice = ENVIRONMENT_REFUSALS[answer.code.lower()]
    if advice is not None:
        return CheckError(advice.code, advice.message.format(action=action), advice.hint, details)
    said = f": {answer.message[:300]}" if answer.message else "."
    return CheckError(
        "dataverse_error",
        f"Dataverse answered {action} with HTTP {answer.status}{said}",
        "Check the environment's state in the Power Platform admin center.",
        details,
    )


def not_dataverse(detail: str) -> CheckError:
    return CheckError(
        "not_dataverse",
        f"The server answered, but not like a Dataverse environment: {detail}",
        DATAVERSE_URL_HINT,
    )


def not_dynamics(detail: str) -> CheckError:
    return CheckError("not_dynamics", f"The server answered, but not like Dynamics CRM: {detail}", ONPREM_URL_HINT)


@dataclass(frozen=True)
class OnPremAnswer:
    """What an on-premises server said: status, the headers that matter, the body (bounded by the caller)."""

    status: int
    body: bytes = field(repr=False)
    content_type: str = ""
    www_authenticate: str = ""
    location: str = ""
    data_service_version: str = ""
    history: tuple[int, ...] = ()  # statuses of the NTLM handshake's earlier answers


def onprem_error(answer: OnPremAnswer, action: str) -> CheckError:
    """A CheckError for an on-premises Dynamics CRM server's refusal of `action`."""
    code, message = _crm_error(answer.body)
    details = {"http_status": str(answer.status)}
    if code:
        details["crm_code"] = code
    if message:
        details["crm_says"] = message[:500]
    if 300 <= answer.status < 400:
        return _onprem_redirect(answer, details)
    if answer.status == 401:
        return _onprem_unauthorized(answer, action, details)
    if answer.status == 403:
        return CheckError(
            "no_crm_user",
            f"The sign-in worked, but Dynamics CRM refused {action} (HTTP 403): the account is not a Dynamics CRM "
            "user of this organization, or its CRM user is disabled" + (f" ({message[:200]})." if message else "."),
            "In Dynamics CRM open Settings > Security > Users, add this account (or enable its user) in a business "
            "unit and give it a security role. With ADFS, the token's UPN claim must match that user.",
            details,
        )
    if answer.status in (429, 503):
        return throttled("Dynamics CRM", answer.status, "the server's health", details)
    return CheckError(
        "crm_error",
        f"Dynamics CRM answered {action} with HTTP {answer.status}" + (f": {message[:300]}" if message else "."),
        "Check the Dynamics CRM server's event log and the organization's state in Deployment Manager.",
        details,
    )


def _onprem_unauthorized(answer: OnPremAnswer, action: str, details: dict) -> CheckError:
    details["www_authenticate"] = answer.www_authenticate[:300]
    if answer.www_authenticate.lower().startswith("bearer"):
        expected = _RESOURCE_ID.search(answer.www_authenticate)
        tip = f" It expects tokens for {expected.group(1)}: set the AD FS Resource to that." if expected else ""
        return CheckError(
            "crm_unauthorized",
            f"Dynamics CRM did not accept the token from AD FS for {action} (HTTP 401).",
            "The token must be issued for the relying party the CRM server is known by in AD FS (AD FS Resource), "
            "by the AD FS the server trusts (claims-based authentication)." + tip,
            details,
        )
    return CheckError(
        "crm_unauthorized",
        f"Dynamics CRM refused {action} (HTTP 401) although Windows accepted the sign-in.",
        "Check that the account is a Dynamics CRM user of this organization, and the organization in the URL.",
        details,
    )


def _onprem_redirect(answer: OnPremAnswer, details: dict) -> CheckError:
    target = urlsplit(answer.location)
    if "/adfs/" not in target.path.lower():
        refused = redirect_refused(answer.location, ONPREM_URL_HINT)
        refused.details.update(details)
        return refused
    return CheckError(
        "redirect_refused",
        f"The server redirects to AD FS sign-in at {target.hostname}: it uses claims-based authentication.",
        "Choose the Auth Scheme ADFS, with the AD FS Server and an AD FS server application's Client ID and "
        "Client Secret.",
        {**details, "redirect_host": target.hostname or "another address"},
    )


def _crm_error(raw: bytes) -> tuple[str, str]:
    try:
        error = json.loads(raw).get("error", {})
        message = error.get("message", "")
        if isinstance(message, dict):  # OData v2: {"lang": "en-US", "value": "..."}
            message = message.get("value", "")
        return str(error.get("code", "")), str(message)
    except (ValueError, AttributeError):
        return "", ""
