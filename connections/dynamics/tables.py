"""What a principal can read, as the Web API (Dataverse, CRM 2016+) or the OData v2 service (CRM 2011-2015) says it.

The public tables (`EntityDefinitions`, or the v2 service document's entity sets), the principal's privileges
(`RetrieveUserPrivileges`), and a `$top=1` read of one table, whose refusal names the missing privilege. Plain
requests through the guarded client; each answer becomes data or a CheckError (answers.py's advice).
"""

import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from connections.dynamics import http, onprem_api
from connections.dynamics.answers import DataverseAnswer, OnPremAnswer, dataverse_error, not_dataverse

# Microsoft documents metadata queries as not paged; the preference is sent anyway and a nextLink followed.
PAGE_SIZE = 500
MAX_PAGES = 20
MAX_TABLES = 2000
TABLE_SELECT = "LogicalName,SchemaName,EntitySetName,DisplayName"
PUBLIC_TABLES = f"EntityDefinitions?$select={TABLE_SELECT}&$filter=IsPrivate eq false"
PRIVILEGE_DENIED = "0x80040220"
TABLE_NOT_FOUND = ("0x80060888", "0x80040217")  # a table (entity set) or a table definition that does not exist
_MISSING_PRIVILEGE = re.compile(r"missing (prv\w+) privilege")
GRANT_WHERE = (
    "Power Platform admin center > Environments > the environment > Settings > Users + permissions > Security roles"
)
ONPREM_GRANT_WHERE = "Dynamics CRM > Settings > Security > Security Roles"
# A table's read privilege is prvRead + its SchemaName, but for these (Dataverse's own names).
READ_PRIVILEGES = {"systemuser": "prvReadUser"}


@dataclass
class Table:
    """One table as the check found it; `readable` None while unknown."""

    logical_name: str
    schema_name: str = ""
    display_name: str = ""
    entity_set: str = ""
    readable: bool | None = None
    privilege: str = ""  # the read privilege: prvRead + SchemaName
    depth: str = ""  # Basic, Local, Deep or Global; empty when the principal lacks it
    read: bool = False  # read with $top=1 by this check
    code: str = ""  # the refusal's code (Dataverse's), or our outcome code
    message: str = ""
    hint: str = ""

    def as_data(self) -> dict:
        return vars(self).copy()


@dataclass
class Listing:
    tables: list[Table] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def api_base(org_url: str, version: str) -> str:
    return f"{org_url.rstrip('/')}/api/data/v{version}/"


def get_json(client, url: str, auth: dict, action: str, prefer: str = "") -> dict:
    """GET a Web API URL; the answer's JSON, or a CheckError explaining Dataverse's refusal."""
    headers = {**onprem_api.WEB_API_HEADERS, **auth}
    if prefer:
        headers["Prefer"] = prefer
    answer = onprem_api.fetch(client, url, headers)
    if answer.status != 200:
        raise dataverse_error(refusal(answer), action)
    try:
        body = json.loads(answer.body)
    except ValueError as error:
        raise not_dataverse(f"{action} answered HTTP 200 but not with JSON.") from error
    if not isinstance(body, dict):
        raise not_dataverse(f"{action} answered with unexpected JSON.")
    return body


def refusal(answer: OnPremAnswer, url: str = "") -> DataverseAnswer:
    """An error answer's status, code and message, in the shape answers.py explains (a 429 or 503 of `url` says
    whether it was the answer to the polite retry)."""
    code = message = ""
    try:
        error = json.loads(answer.body).get("error", {})
        code, message = str(error.get("code", "")), error.get("message", "")
        if isinstance(message, dict):  # OData v2: {"lang": "en-US", "value": "..."}
            message = message.get("value", "")
    except (ValueError, AttributeError):
        pass
    details = {}
    if answer.status in http.RETRY_STATUSES and url:
        if any(exchange.retried for exchange in http.exchanges() if exchange.url == url.split("?")[0]):
            details["retried"] = "yes"
    return DataverseAnswer(answer.status, code, str(message), answer.www_authenticate, details)


def public_tables(client, base: str, auth: dict, max_pages: int = MAX_PAGES, max_tables: int = MAX_TABLES) -> Listing:
    """The public tables, from at most `max_pages` pages and `max_tables` tables (a warning for each bound hit)."""
    rows, warnings = collect(client, base + PUBLIC_TABLES, auth, "The table list (EntityDefinitions)", max_pages)
    listing = Listing([_table(row) for row in rows if isinstance(row, dict)], warnings)
    if len(listing.tables) > max_tables:
        listing.warnings.append(f"More than {max_tables:,} public tables: only the first {max_tables:,} are listed.")
        del listing.tables[max_tables:]
    return listing


def collect(client, url: str, auth: dict, action: str, max_pages: int = MAX_PAGES) -> tuple[list, list[str]]:
    """A Web API collection's rows, following `@odata.nextLink` on the same host for at most `max_pages` pages;
    with a warning when a bound stopped it (a page that never ends)."""
    rows, host = [], urlsplit(url).netloc
    for _ in range(max_pages):
        body = get_json(client, url, auth, action, f"odata.maxpagesize={PAGE_SIZE}")
        rows += body.get("value") or []
        url = str(body.get("@odata.nextLink") or "")
        if not url:
            return rows, []
        if urlsplit(url).netloc != host:
            return rows, [f"{action}: its next page is on another host ({urlsplit(url).hostname}), not followed."]
    return rows, [f"{action} did not end after {max_pages} pages: only those were read."]


def table_definition(client, base: str, auth: dict, logical_name: str) -> Table:
    """One table's definition by logical name (private ones too); CheckError 404 when there is no such table."""
    url = f"{base}EntityDefinitions(LogicalName='{quote(logical_name)}')?$select={TABLE_SELECT}"
    return _table(get_json(client, url, auth, f"the definition of {logical_name}"))


def privileges(client, base: str, auth: dict, user_id: str) -> dict[str, str]:
    """The principal's privileges and their depth (its roles', and its teams' roles at Basic depth)."""
    url = f"{base}systemusers({user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"
    body = get_json(client, url, auth, "RetrieveUserPrivileges")
    found = {}
    for grant in body.get("RolePrivileges") or []:
        if isinstance(grant, dict) and grant.get("PrivilegeName"):
            found[str(grant["PrivilegeName"])] = str(grant.get("Depth", ""))
    return found


def read_one(client, base: str, auth: dict, table: Table) -> OnPremAnswer:
    """`$top=1` of the table's rows (the answer is judged by access_check; the rows are never kept)."""
    return onprem_api.fetch(client, read_url(base, table), {**onprem_api.WEB_API_HEADERS, **auth})


def read_url(base: str, table: Table) -> str:
    return f"{base}{table.entity_set}?$top=1"


def entity_sets(client, service_url: str, auth: dict) -> list[Table]:
    """The OData v2 service document's entity sets (AccountSet: SchemaName Account, logical name account)."""
    answer = onprem_api.fetch(client, service_url, {**onprem_api.ODATA_V2_HEADERS, **auth})
    if answer.status != 200:
        raise dataverse_error(refusal(answer), "the OData v2 service document")
    try:
        names = json.loads(answer.body)["d"]["EntitySets"]
    except (ValueError, KeyError, TypeError) as error:
        raise not_dataverse("the OData v2 service answered without its entity sets.") from error
    schemas = [str(name).removesuffix("Set") for name in names if str(name).endswith("Set")]
    return [
        Table(schema.lower(), schema, schema, f"{schema}Set", privilege=read_privilege(schema)) for schema in schemas
    ]


def read_privilege(schema_name: str) -> str:
    return READ_PRIVILEGES.get(schema_name.lower(), f"prvRead{schema_name}")


def read_one_v2(client, service_url: str, auth: dict, table: Table) -> OnPremAnswer:
    return onprem_api.fetch(client, f"{service_url}{table.entity_set}?$top=1", {**onprem_api.ODATA_V2_HEADERS, **auth})


def missing_privilege(message: str) -> str:
    """The privilege Dataverse names in its 403 ("…is missing prvReadAccount privilege…"), or ""."""
    match = _MISSING_PRIVILEGE.search(message)
    return match.group(1) if match else ""


def _table(entry: dict) -> Table:
    schema = str(entry.get("SchemaName") or entry.get("LogicalName") or "")
    label = ((entry.get("DisplayName") or {}).get("UserLocalizedLabel") or {}).get("Label") or ""
    return Table(
        str(entry.get("LogicalName") or ""),
        schema,
        str(label),
        str(entry.get("EntitySetName") or ""),
        privilege=read_privilege(schema),
    )
