"""The Dataverse Web API calls a TEST makes: WhoAmI and RetrieveVersion."""

import json
from dataclasses import dataclass

from connections.dynamics import http
from connections.dynamics.answers import (
    DATAVERSE_URL_HINT,
    DataverseAnswer,
    dataverse_error,
    not_dataverse,
    redirect_refused,
)

API_VERSION = "v9.2"
MAX_BODY_BYTES = 1024 * 1024
ODATA_HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
}


@dataclass(frozen=True)
class WhoAmI:
    user_id: str
    business_unit_id: str
    organization_id: str


def who_am_i(org_url: str, access_token: str) -> WhoAmI:
    body = _get(org_url, "WhoAmI", access_token, "WhoAmI")
    try:
        return WhoAmI(str(body["UserId"]), str(body["BusinessUnitId"]), str(body["OrganizationId"]))
    except KeyError as error:
        raise not_dataverse("WhoAmI answered without UserId/OrganizationId.") from error


def retrieve_version(org_url: str, access_token: str) -> str:
    body = _get(org_url, "RetrieveVersion()", access_token, "RetrieveVersion")
    version = body.get("Version")
    if not isinstance(version, str):
        raise not_dataverse("RetrieveVersion answered without a Version.")
    return version


def _get(org_url: str, function: str, access_token: str, action: str) -> dict:
    url = f"{org_url.rstrip('/')}/api/data/{API_VERSION}/{function}"
    headers = {**ODATA_HEADERS, "Authorization": f"Bearer {access_token}"}
    response = http.client.get(url, headers=headers, stream=True)
    with response:
        raw = response.raw.read(MAX_BODY_BYTES + 1, decode_content=True)
    if 300 <= response.status_code < 400:
        raise redirect_refused(response.headers.get("Location", ""), DATAVERSE_URL_HINT)
    if response.status_code != 200:
        raise dataverse_error(answer_of(response, raw), action)
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise not_dataverse(f"{action} answered HTTP 200 but not with JSON.") from error
    if not isinstance(body, dict):
        raise not_dataverse(f"{action} answered with unexpected JSON.")
    return body


def answer_of(response, raw: bytes) -> DataverseAnswer:
    """What an error answer of the Web API says: its status, code, message and the headers that explain it."""
    code = message = ""
    try:
        error = json.loads(raw).get("error", {})
        code, message = str(error.get("code", "")), str(error.get("message", ""))
    except (ValueError, AttributeError):
        pass
    details = {}
    for header in ("x-ms-service-request-id", "REQ_ID"):
        if response.headers.get(header):
            details["request_id"] = response.headers[header]
    if response.status_code in http.RETRY_STATUSES:
        if response.headers.get("Retry-After"):
            details["retry_after"] = f"{http.retry_after_seconds(response):.0f}"
        url = response.url.split("?")[0]
        if any(exchange.retried for exchange in http.exchanges() if exchange.url == url):
            details["retried"] = "yes"
    return DataverseAnswer(response.status_code, code, message, response.headers.get("WWW-Authenticate", ""), details)
