"""The endpoints of an on-premises Dynamics CRM server a TEST looks for, newest first.

CRM 2016 (8.x) and Dynamics 365 (9.x) servers have the Web API (`/api/data/v{N}/`), where WhoAmI and
RetrieveVersion answer; CRM 2011 to 2015 have only the OData v2 organization data service
(`/XRMServices/2011/OrganizationData.svc/`). A 404 means "not this one": the next is tried.
"""

import json
from dataclasses import dataclass

from connections.dynamics import http
from connections.dynamics.answers import OnPremAnswer, not_dynamics, onprem_error

WEB_API_VERSIONS = ("9.2", "9.1", "9.0", "8.2", "8.1", "8.0")
ODATA_V2_PATH = "XRMServices/2011/OrganizationData.svc/"
MAX_BODY_BYTES = 1024 * 1024
WEB_API_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
ODATA_V2_HEADERS = {"Accept": "application/json", "MaxDataServiceVersion": "2.0"}


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


def fetch(client: http.BoundedClient, url: str, headers: dict) -> OnPremAnswer:
    """GET `url`, reading the whole (bounded) body so that the connection goes back to its pool."""
    response = client.get(url, headers=headers, stream=True)
    with response:
        body = response.raw.read(MAX_BODY_BYTES + 1, decode_content=True)
    return answer_of(response, body)


def answer_of(response, body: bytes) -> OnPremAnswer:
    """What the server said: the status, the headers that matter and the (bounded) body already read."""
    return OnPremAnswer(
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


def find_endpoint(client: http.BoundedClient, org_url: str, auth: dict, first: OnPremAnswer | None = None) -> Endpoint:
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
        except KeyError as error:
            raise not_dynamics("WhoAmI answered without UserId and OrganizationId.") from error
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


def _json_or_raise(answer: OnPremAnswer, action: str) -> dict:
    if answer.status != 200:
        raise onprem_error(answer, action)
    try:
        body = json.loads(answer.body)
    except ValueError as error:
        raise not_dynamics(f"{action} answered HTTP 200 but not with JSON.") from error
    if not isinstance(body, dict):
        raise not_dynamics(f"{action} answered with unexpected JSON.")
    return body
