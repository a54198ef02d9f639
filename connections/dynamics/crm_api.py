"""The endpoints of an on-premises Dynamics CRM server a TEST looks for, newest first.

CRM 2016 (8.x) and Dynamics 365 (9.x) servers have the Web API (`/api/data/v{N}/`), where WhoAmI and
RetrieveVersion answer; CRM 2011 to 2015 have only the OData v2 organization data service
(`/XRMServices/2011/OrganizationData.svc/`). A 404 means "not this one": the next is tried.
"""

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from connections.dynamics import http
from connections.dynamics.errors import CheckError

WEB_API_VERSIONS = ("9.2", "9.1", "9.0", "8.2", "8.1", "8.0")
ODATA_V2_PATH = "XRMServices/2011/OrganizationData.svc/"
MAX_BODY_BYTES = 1024 * 1024
WEB_API_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
ODATA_V2_HEADERS = {"Accept": "application/json", "MaxDataServiceVersion": "2.0"}
URL_HINT = (
    "Check the URL: it is the organization's root, like http://crmserver/Contoso (the organization name is "
    "the first path segment when the server hosts several organizations) or https://contoso.crm.contoso.com/."
)
_RESOURCE_ID = re.compile(r"resource_id=([^,\s]+)")


@dataclass(frozen=True)
class Answer:
    """What the server said: status, the headers that matter, the body (at most 1 MiB)."""

    status: int
    body: bytes = field(repr=False)
    content_type: str = ""
    www_authenticate: str = ""
    location: str = ""
    data_service_version: str = ""
    history: tuple[int, ...] = ()  # statuses of the NTLM handshake's earlier answers


@dataclass(frozen=True)
class Endpoint:
    kind: str  # "Web API" or "OData v2 organization data service"
    version: str  # the Web API version (9.1) or the OData protocol version (2.0)
    url: str
    user_id: str = ""
    business_unit_id: str = ""
    organization_id: str = ""

    @property
    def is_web_api(self) -> bool:
        return self.kind == "Web API"


def fetch(client: http.BoundedClient, url: str, headers: dict) -> Answer:
    """GET `url`, reading the whole (bounded) body so that the connection goes back to its pool."""
    response = client.get(url, headers=headers, stream=True)
    with response:
        body = response.raw.read(MAX_BODY_BYTES + 1, decode_content=True)
    return Answer(
        response.status_code,
        body,
        response.headers.get("Content-Type", ""),
        response.headers.get("WWW-Authenticate", ""),
        response.headers.get("Location", ""),
        response.headers.get("DataServiceVersion", ""),
        tuple(earlier.status_code for earlier in response.history),
    )


def web_api_url(org_url: str, version: str, function: str) -> str:
    return f"{org_url.rstrip('/')}/api/data/v{version}/{function}"


def first_probe(org_url: str) -> str:
    return web_api_url(org_url, WEB_API_VERSIONS[0], "WhoAmI")


def find_endpoint(client: http.BoundedClient, org_url: str, auth: dict, first: Answer | None = None) -> Endpoint:
    """WhoAmI on the newest Web API version that answers, else the OData v2 service; CheckError otherwise."""
    for version in WEB_API_VERSIONS:
        url = web_api_url(org_url, version, "WhoAmI")
        answer = first if first is not None and version == WEB_API_VERSIONS[0] else None
        answer = answer or fetch(client, url, {**WEB_API_HEADERS, **auth})
        if answer.status == 404:
            continue
        body = _json_or_raise(answer, "WhoAmI")
        try:
            ids = (str(body["UserId"]), str(body["BusinessUnitId"]), str(body["OrganizationId"]))
        except KeyError:
            raise not_dynamics("WhoAmI answered without UserId and OrganizationId.") from None
        return Endpoint("Web API", version, url, *ids)
    url = org_url.rstrip("/") + "/" + ODATA_V2_PATH
    answer = fetch(client, url, {**ODATA_V2_HEADERS, **auth})
    if answer.status == 404:
        tried = ", ".join(f"v{version}" for version in WEB_API_VERSIONS)
        raise not_dynamics(
            f"neither the Web API ({tried}) nor the OData v2 organization data service answered (HTTP 404)."
        )
    body = _json_or_raise(answer, "the OData v2 organization data service")
    entity_sets = (body.get("d") or {}).get("EntitySets") if isinstance(body.get("d"), dict) else None
    if not isinstance(entity_sets, list) or "SystemUserSet" not in entity_sets:
        raise not_dynamics("the OData v2 organization data service answered without Dynamics CRM's entity sets.")
    version = answer.data_service_version.split(";")[0].strip() or "2.0"
    return Endpoint("OData v2 organization data service", version, url)


def retrieve_version(client: http.BoundedClient, endpoint: Endpoint, org_url: str, auth: dict) -> str:
    """RetrieveVersion on the Web API version that answered WhoAmI."""
    url = web_api_url(org_url, endpoint.version, "RetrieveVersion()")
    body = _json_or_raise(fetch(client, url, {**WEB_API_HEADERS, **auth}), "RetrieveVersion")
    version = body.get("Version")
    if not isinstance(version, str):
        raise not_dynamics("RetrieveVersion answered without a Version.")
    return version


def _json_or_raise(answer: Answer, action: str) -> dict:
    if answer.status != 200:
        raise answer_error(answer, action)
    try:
        body = json.loads(answer.body)
    except ValueError:
        raise not_dynamics(f"{action} answered HTTP 200 but not with JSON.") from None
    if not isinstance(body, dict):
        raise not_dynamics(f"{action} answered with unexpected JSON.")
    return body


def not_dynamics(detail: str) -> CheckError:
    return CheckError(
        "not_dynamics",
        f"The server answered, but not like Dynamics CRM: {detail}",
        URL_HINT,
    )


def answer_error(answer: Answer, action: str) -> CheckError:
    """A CheckError for a Dynamics CRM server's refusal of `action`."""
    code, message = _crm_error(answer.body)
    details = {"http_status": str(answer.status)}
    if code:
        details["crm_code"] = code
    if message:
        details["crm_says"] = message[:500]
    if 300 <= answer.status < 400:
        return _redirect(answer, details)
    if answer.status == 401:
        return _unauthorized(answer, action, details)
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
        return CheckError(
            "throttled",
            f"Dynamics CRM is busy and asked to retry later (HTTP {answer.status}), even after one retry.",
            "Try again in a few minutes; if it persists, check the server's health.",
            details,
        )
    return CheckError(
        "crm_error",
        f"Dynamics CRM answered {action} with HTTP {answer.status}" + (f": {message[:300]}" if message else "."),
        "Check the Dynamics CRM server's event log and the organization's state in Deployment Manager.",
        details,
    )


def _unauthorized(answer: Answer, action: str, details: dict) -> CheckError:
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


def _redirect(answer: Answer, details: dict) -> CheckError:
    target = urlsplit(answer.location)
    details["redirect_host"] = target.hostname or "another address"
    if "/adfs/" in target.path.lower():
        return CheckError(
            "redirect_refused",
            f"The server redirects to AD FS sign-in at {target.hostname}: it uses claims-based authentication.",
            "Choose the Auth Scheme ADFS, with the AD FS Server and an AD FS server application's Client ID and "
            "Client Secret.",
            details,
        )
    return CheckError(
        "redirect_refused",
        f"The server answered with a redirect to {details['redirect_host']}; redirects are never followed.",
        URL_HINT,
        details,
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
