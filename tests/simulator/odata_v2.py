"""The OData v2 organization data service of CRM 2011 to 2015: ``/XRMServices/2011/OrganizationData.svc/``.

As Microsoft's "Use the OData endpoint" pages for CRM 2011/2013 describe it: entity sets are named
``{SchemaName}Set`` (``AccountSet``), properties by SchemaName (``Name``, ``AccountId``); JSON answers are
OData v2 verbose JSON: the service document ``{"d": {"EntitySets": [...]}}`` and collections
``{"d": {"results": [...], "__next": ...}}``, each entry with ``__metadata`` (``uri``, ``type``
``Microsoft.Crm.Sdk.Data.Services.Account``). Lookups are ``EntityReference`` objects (``Id``,
``LogicalName``, ``Name``), money ``Money`` (``Value`` as a string), option sets ``OptionSetValue``
(``Value``), dates ``"/Date(ms)/"``. At most 50 entries come per page, then ``__next`` with a
``$skiptoken``. Errors are ``{"error": {"code": "", "message": {"lang": "en-US", "value": ...}}}``
(WCF Data Services).

Assumption: a missing read privilege answers 403 with the privilege message of the Web API in this
error shape (CRM's status there is not documented).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from .messages import Request, Response
from .table_api import Caller, TableApi
from .table_rows import as_datetime
from .tables import LOOKUP_TYPES, OPTION_TYPES, Column, Table

PATH = "XRMServices/2011/OrganizationData.svc"
PAGE_SIZE = 50
NAMESPACE = "Microsoft.Crm.Sdk.Data.Services"
HEADERS = {"DataServiceVersion": "1.0;"}
_SET = re.compile(r"(?P<set>\w+)Set/?")


def v2_error(status: int, message: str) -> Response:
    body = {"error": {"code": "", "message": {"lang": "en-US", "value": message}}}
    return Response.json(status, body, HEADERS)


def answer(request: Request, api: TableApi, org_key: str, org_url: str, rest: str, caller: Caller) -> Response:
    """``rest``: the path after ``XRMServices/2011/OrganizationData.svc/``."""
    tables = api.catalogue.tables(org_key)
    if not rest.strip("/"):
        names = sorted(f"{t.schema_name}Set" for t in tables.values())
        return Response.json(200, {"d": {"EntitySets": names}}, HEADERS)
    match = _SET.fullmatch(rest)
    table = next((t for t in tables.values() if match and t.schema_name == match["set"]), None)
    if table is None:
        return v2_error(404, f"Resource not found for the segment '{rest.strip('/')}'.")
    if not api.security.can_read(org_key, caller.user_id, table):
        return v2_error(403, api.privilege_message(org_key, caller, table))
    params = request.query_params()
    top = int(params["$top"]) if params.get("$top", "").isdigit() else None
    start = int(params["$skiptoken"]) if params.get("$skiptoken", "").isdigit() else 0
    size = min(top, PAGE_SIZE) if top is not None else PAGE_SIZE
    rows = table.rows[start : start + size]
    service = f"{org_url.rstrip('/')}/{PATH}/"
    body: dict = {"results": [_entry(service, table, row) for row in rows]}
    if top is None and start + size < len(table.rows):
        body["__next"] = f"{service}{table.schema_name}Set?$skiptoken={quote(str(start + size))}"
    return Response.json(200, {"d": body}, HEADERS)


def _entry(service: str, table: Table, row: dict) -> dict:
    key = row[table.primary_id]
    entry: dict = {
        "__metadata": {
            "uri": f"{service}{table.schema_name}Set(guid'{key}')",
            "type": f"{NAMESPACE}.{table.schema_name}",
        }
    }
    for column in table.columns.values():
        entry[column.schema_name] = _value(column, row.get(column.logical_name))
    return entry


def _value(column: Column, value):
    if column.type in LOOKUP_TYPES:
        guid, name, target = (*value, column.target)[:3] if isinstance(value, tuple) else (value, None, column.target)
        return {
            "__metadata": {"type": f"{NAMESPACE}.EntityReference"},
            "Id": guid,
            "LogicalName": target if guid else None,
            "Name": name if guid else None,
        }
    if column.type == "Money":
        return {"__metadata": {"type": f"{NAMESPACE}.Money"}, "Value": None if value is None else f"{value:.4f}"}
    if column.type in OPTION_TYPES:
        return {"__metadata": {"type": f"{NAMESPACE}.OptionSetValue"}, "Value": value}
    if column.type == "DateTime" and value is not None:
        return f"/Date({round(as_datetime(value).timestamp() * 1000)})/"
    return value
