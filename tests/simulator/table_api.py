"""The Web API's table endpoints: table and column definitions, a user's privileges, and reading rows.

Shared by Dataverse (:mod:`.dataverse`) and on-premises CRM 2016+ (:mod:`.crm_onprem`), after their own
authentication. As Microsoft documents them:

- ``EntityDefinitions?$select=...&$filter=IsPrivate eq false``: metadata queries are *not* paged ("There is
  no paging. All matching resources will be returned in the first response", Query table definitions
  using the Web API), so ``Prefer: odata.maxpagesize`` is not applied there. ``MetadataId`` is always
  returned; ``DisplayName`` is a Label. ``EntityDefinitions(LogicalName='account')/Attributes`` lists
  every column, ``@odata.type`` naming the AttributeMetadata type.
- ``systemusers({id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()``: ``RolePrivileges`` of the user's
  roles at their depth, and of its teams' roles at Basic depth only (the function's Remarks);
  ``RetrieveUserPrivilegeByPrivilegeName(PrivilegeName='prvReadAccount')`` gives team roles' full depth.
- ``{EntitySetName}?$select=...&$top=N``: rows with ``@odata.etag``, lookups as ``_x_value``, the primary
  key always; ``Prefer: odata.maxpagesize=N`` (at most 5,000, larger is ignored) pages with
  ``@odata.nextLink`` (a ``$skiptoken`` paging cookie) and answers ``Preference-Applied``; ``$top`` limits
  the rows and turns paging off. ``Prefer: odata.include-annotations="..."`` adds the annotations it names
  (``*``, ``OData.Community.Display.V1.FormattedValue``, ``Microsoft.Dynamics.CRM.*``...).
  Without the table's read privilege: 403 ``0x80040220`` naming the principal and the privilege.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from .messages import Request, Response
from .roles import DEPTHS, Security, privilege_id
from .table_rows import (
    MAX_PAGE_SIZE,
    names,
    next_link,
    page_number,
    page_of,
    patterns,
    render,
    requested_page_size,
    select_columns,
)
from .tables import LOOKUP_TYPES, Catalogue, Column, Table, label, stable_guid

ODATA_JSON = "application/json; odata.metadata=minimal"
NOT_FOUND_CODE = "0x80060888"
PRIVILEGE_DENIED = "0x80040220"  # PrivilegeDenied, -2147220960 ("Principal user is missing privilege on OTC")
OBJECT_NOT_FOUND = "0x80040217"  # ObjectDoesNotExist
INTERACTIVE, NON_INTERACTIVE = 0, 4  # systemuser accessmode: Read-Write; Non-interactive (application users)

_ENTITY = re.compile(r"EntityDefinitions\(LogicalName='(?P<name>[^']*)'\)(?P<attributes>/Attributes)?")
_PRIVILEGES = re.compile(
    r"systemusers\((?P<id>[0-9a-fA-F-]{36})\)/(?:Microsoft\.Dynamics\.CRM\.)?"
    r"(?P<function>RetrieveUserPrivileges|RetrieveUserPrivilegeByPrivilegeName)\((?P<args>[^)]*)\)"
)
_PREFERENCE = re.compile(r'\s*(?P<name>[\w.-]+)(?:\s*=\s*(?P<value>"[^"]*"|[^,]*))?\s*(?:,|$)')
_ATTRIBUTE_TYPE_NAMES = {"Uniqueidentifier": "UniqueidentifierType", "BigInt": "BigIntType"}


@dataclass
class Caller:
    """The systemuser a request runs as."""

    user_id: str
    business_unit_id: str
    access_mode: int = INTERACTIVE


def error(status: int, code: str, message: str) -> Response:
    body = {"error": {"code": code, "message": message}}
    return Response.json(status, body, {"OData-Version": "4.0"}, content_type=ODATA_JSON)


def ok(payload: dict, headers: dict[str, str] | None = None) -> Response:
    all_headers = {"OData-Version": "4.0", "REQ_ID": str(uuid.uuid4()), **(headers or {})}
    return Response.json(200, payload, all_headers, content_type=ODATA_JSON)


def preferences(request: Request) -> dict[str, str]:
    """The ``Prefer`` header's preferences, values unquoted: ``{"odata.maxpagesize": "2", ...}``."""
    header = ", ".join(request.headers.get_all("Prefer") or [])
    found = {}
    for match in _PREFERENCE.finditer(header):
        if match["name"]:
            found[match["name"].lower()] = (match["value"] or "").strip().strip('"')
    return found


class TableApi:
    """The endpoints above, over a :class:`~.tables.Catalogue` and a :class:`~.roles.Security`."""

    def __init__(self, catalogue: Catalogue, security: Security) -> None:
        self.catalogue = catalogue
        self.security = security
        self.endless: set[tuple[str, str]] = set()  # (environment key, entity set) whose pages never end
        self.user_exists: Callable[[str, str], bool] = lambda env_key, user_id: True  # set by the host service

    def route(self, request: Request, env_key: str, base: str, segment: str, caller: Caller) -> Response | None:
        """Answer ``segment`` (the path after ``/api/data/v9.x/``), or None when it is none of these."""
        params = request.query_params()
        if segment == "EntityDefinitions":
            return self.entity_definitions(env_key, base, params)
        if match := _ENTITY.fullmatch(segment):
            return self.entity_definition(env_key, base, params, match["name"], bool(match["attributes"]))
        if match := _PRIVILEGES.fullmatch(segment):
            return self.privileges(env_key, base, caller, match["id"], match["function"], match["args"])
        table = self.catalogue.by_entity_set(env_key, segment)
        if table is None:
            return None
        return self.read_rows(request, env_key, base, table, caller)

    # --- definitions ------------------------------------------------------------------------

    def entity_definitions(self, env_key: str, base: str, params: dict) -> Response:
        select = names(params.get("$select"))
        tables = list(self.catalogue.tables(env_key).values())
        try:
            tables = [t for t in tables if _matches(params.get("$filter", ""), _entity_properties(t))]
        except ValueError as err:
            return error(400, NOT_FOUND_CODE, str(err))
        values = [_selected(_entity_properties(t), select) for t in tables]
        context = f"{base}$metadata#EntityDefinitions" + (f"({','.join(select)})" if select else "")
        return ok({"@odata.context": context, "value": values})

    def entity_definition(self, env_key: str, base: str, params: dict, name: str, attributes: bool) -> Response:
        table = self.catalogue.find(env_key, name)
        if table is None:
            return error(
                404, OBJECT_NOT_FOUND, f"Entity with LogicalName = '{name}' was not found in the MetadataCache."
            )
        select = names(params.get("$select"))
        if not attributes:
            context = f"{base}$metadata#EntityDefinitions({','.join(select)})/$entity" if select else ""
            return ok(
                {
                    "@odata.context": context or f"{base}$metadata#EntityDefinitions/$entity",
                    **_selected(_entity_properties(table), select),
                }
            )
        values = [
            {
                "@odata.type": f"#Microsoft.Dynamics.CRM.{_metadata_type(column)}",
                **_selected(_attribute_properties(table, column), select),
            }
            for column in table.columns.values()
        ]
        suffix = f"({','.join(select)})" if select else ""
        context = f"{base}$metadata#EntityDefinitions('{table.logical_name}')/Attributes{suffix}"
        return ok({"@odata.context": context, "value": values})

    # --- privileges ---------------------------------------------------------------------------

    def privileges(self, env_key: str, base: str, caller: Caller, user_id: str, function: str, args: str) -> Response:
        users = self.catalogue.find(env_key, "systemuser")
        if user_id.lower() != caller.user_id.lower() and not self.security.can_read(env_key, caller.user_id, users):
            return self.privilege_denied(env_key, caller, users)
        if not self.user_exists(env_key, user_id):
            return error(404, OBJECT_NOT_FOUND, f"systemuser With Id = {user_id} Does Not Exist")
        wanted = re.search(r"PrivilegeName='([^']*)'", args)
        by_name = function == "RetrieveUserPrivilegeByPrivilegeName"
        strongest: dict[str, str] = {}
        for grant in self.security.grants(env_key, user_id):
            if by_name and (wanted is None or grant.name != wanted[1]):
                continue
            depth = "Basic" if grant.via_team and not by_name else grant.depth
            if DEPTHS.index(depth) >= DEPTHS.index(strongest.get(grant.name, "Basic")):
                strongest[grant.name] = depth
        role_privileges = [
            {
                "Depth": depth,
                "PrivilegeId": privilege_id(name),
                "BusinessUnitId": caller.business_unit_id,
                "PrivilegeName": name,
            }
            for name, depth in strongest.items()
        ]
        context = f"{base}$metadata#Microsoft.Dynamics.CRM.{function}Response"
        return ok({"@odata.context": context, "RolePrivileges": role_privileges})

    def privilege_denied(self, env_key: str, caller: Caller, table: Table) -> Response:
        """403 with the message Dataverse gives a principal missing a table's privilege."""
        return error(403, PRIVILEGE_DENIED, self.privilege_message(env_key, caller, table))

    def privilege_message(self, env_key: str, caller: Caller, table: Table) -> str:
        privilege = table.read_privilege
        count = len({grant.name for grant in self.security.grants(env_key, caller.user_id)})
        roles = self.security.role_count(env_key, caller.user_id)
        message = (
            f"Principal user (Id={caller.user_id}, type=8, roleCount={roles}, "
            f"privilegeCount={count}, accessMode={caller.access_mode}), is missing {privilege} privilege "
            f"(Id={privilege_id(privilege)}) on OTC={table.object_type_code} for entity '{table.logical_name}'. "
            f"context.Caller={caller.user_id}"
        )
        return message

    # --- rows -----------------------------------------------------------------------------------

    def read_rows(self, request: Request, env_key: str, base: str, table: Table, caller: Caller) -> Response:
        if not self.security.can_read(env_key, caller.user_id, table):
            return self.privilege_denied(env_key, caller, table)
        params, prefer = request.query_params(), preferences(request)
        try:
            columns = select_columns(table, params.get("$select"))
            top = int(params["$top"]) if "$top" in params else None
        except ValueError as err:
            return error(400, NOT_FOUND_CODE, str(err))
        applied = []
        annotations = prefer.get("odata.include-annotations")
        if annotations is not None:
            applied.append(f'odata.include-annotations="{annotations}"')
        page_size = requested_page_size(prefer.get("odata.maxpagesize")) if top is None else None
        if page_size is not None:
            applied.append(f"odata.maxpagesize={page_size}")
        rows, page = table.rows, page_number(params.get("$skiptoken"))
        endless = (env_key, table.entity_set_name) in self.endless
        size = top if top is not None else (page_size or MAX_PAGE_SIZE)
        chosen = page_of(rows, page, size, endless)
        select = params.get("$select")
        context = f"{base}$metadata#{table.entity_set_name}" + (f"({select})" if select else "")
        payload: dict = {"@odata.context": context}
        payload["value"] = [render(table, row, columns, patterns(annotations)) for row in chosen]
        more = endless or page * size < len(rows)
        if top is None and more:
            payload["@odata.nextLink"] = next_link(base, table, params, page + 1)
        return ok(payload, {"Preference-Applied": ",".join(applied)} if applied else None)


# --- pieces -------------------------------------------------------------------------------------


def _selected(properties: dict, select: list[str]) -> dict:
    if not select:
        return properties
    return {k: v for k, v in properties.items() if k in select or k == "MetadataId"}


def _entity_properties(table: Table) -> dict:
    return {
        "LogicalName": table.logical_name,
        "SchemaName": table.schema_name,
        "EntitySetName": table.entity_set_name,
        "DisplayName": label(table.display_name),
        "DisplayCollectionName": label(table.display_collection_name),
        "ObjectTypeCode": table.object_type_code,
        "PrimaryIdAttribute": table.primary_id,
        "PrimaryNameAttribute": table.primary_name,
        "IsPrivate": table.is_private,
        "IsCustomEntity": table.is_custom,
        "IsIntersect": False,
        "IsValidForAdvancedFind": not table.is_private,
        "MetadataId": table.metadata_id,
    }


def _attribute_properties(table: Table, column: Column) -> dict:
    type_name = _ATTRIBUTE_TYPE_NAMES.get(column.type, f"{column.type}Type")
    properties = {
        "LogicalName": column.logical_name,
        "SchemaName": column.schema_name,
        "AttributeType": column.type,
        "AttributeTypeName": {"Value": type_name},
        "DisplayName": label(column.display_name),
        "EntityLogicalName": table.logical_name,
        "IsPrimaryId": column.logical_name == table.primary_id,
        "IsPrimaryName": column.logical_name == table.primary_name,
        "IsValidForRead": True,
        "AttributeOf": None,
        "MetadataId": stable_column_id(table, column),
    }
    if column.type in LOOKUP_TYPES:
        properties["Targets"] = [column.target] if column.target else []
    return properties


def stable_column_id(table: Table, column: Column) -> str:
    return stable_guid("attribute", table.logical_name, column.logical_name)


def _metadata_type(column: Column) -> str:
    kinds = {"Customer": "Lookup", "Owner": "Lookup", "State": "State", "Status": "Status", "Uniqueidentifier": ""}
    kind = kinds.get(column.type, column.type)
    return f"{kind}AttributeMetadata" if kind else "AttributeMetadata"


def _matches(expression: str, properties: dict) -> bool:
    """``$filter`` of ``Name eq true|false|'text'`` clauses joined by ``and`` (what the app sends)."""
    for clause in filter(None, (c.strip() for c in re.split(r"\s+and\s+", expression.strip()))):
        match = re.fullmatch(r"(\w+)\s+(eq|ne)\s+(true|false|'[^']*'|\d+)", clause)
        if match is None:
            raise ValueError(f"The query parameter $filter clause '{clause}' is not supported by the simulator.")
        name, operator, literal = match.groups()
        if name not in properties:
            raise ValueError(
                f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.EntityMetadata'."
            )
        expected = {"true": True, "false": False}.get(literal, literal.strip("'"))
        expected = int(expected) if isinstance(expected, str) and expected.isdigit() else expected
        if (properties[name] == expected) != (operator == "eq"):
            return False
    return True
