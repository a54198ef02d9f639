"""The three reads of a preview on a Web API, Dataverse's or an on-premises server's (CRM 2016 and newer): the
table's definition, its columns (all of them, not only those with values in the first rows) and its first rows with
formatted values."""

from connections.dynamics import http
from connections.dynamics.errors import CheckError
from connections.dynamics.preview_answers import refusal, too_large
from connections.dynamics.preview_rows import (
    FORMATTED,
    MAX_BODY_BYTES,
    MAX_ROWS,
    Rows,
    TableDefinition,
    columns_of,
    definition,
    fetch,
    json_body,
    web_api_rows,
)

WEB_API_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
ROWS_PREFER = f'odata.include-annotations="{FORMATTED}",odata.maxpagesize={MAX_ROWS}'
DEFINITION_SELECT = "EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,DisplayName"
# Column definitions carry a label per installed language: a wide table's may pass the rows' cap.
METADATA_BYTES = 4 * MAX_BODY_BYTES
ATTRIBUTES_SELECT = "LogicalName,AttributeType,DisplayName,IsValidForRead,AttributeOf"


class WebApiReader:
    """The three reads of a preview on a Web API (Dataverse's or an on-premises server's under `base`)."""

    def __init__(self, client: http.BoundedClient, base: str, auth: dict, on_premises: bool = False, principal=""):
        self.client, self.base, self.auth, self.on_premises = client, base, auth, on_premises
        self.principal = principal  # who signed in, for the refusals: "application user", "user"

    def get(self, path: str, table: str, action: str, cap: int = MAX_BODY_BYTES, **headers) -> dict:
        answer = fetch(self.client, self.base + path, {**WEB_API_HEADERS, **self.auth, **headers}, cap)
        if answer.too_large:
            raise too_large(table, cap)
        if answer.status != 200:
            raise refusal(answer, table, action, self.on_premises, self.principal)
        return json_body(answer, action)

    def definition(self, table: str) -> TableDefinition:
        body = self.get(f"EntityDefinitions(LogicalName='{table}')?$select={DEFINITION_SELECT}", table, "the table")
        found = definition(body, table)
        if not found.entity_set:
            raise CheckError("not_dynamics", f"The definition of {table} has no EntitySetName.", "")
        return found

    def rows(self, found: TableDefinition) -> Rows:
        path = f"EntityDefinitions(LogicalName='{found.logical_name}')/Attributes?$select={ATTRIBUTES_SELECT}"
        attributes = self.get(path, found.logical_name, "the table's columns", METADATA_BYTES).get("value")
        columns, total = columns_of(attributes if isinstance(attributes, list) else [], found)
        action = f"the rows of {found.logical_name}"
        body = self.get(f"{found.entity_set}?$top={MAX_ROWS}", found.logical_name, action, Prefer=ROWS_PREFER)
        return Rows(columns, web_api_rows(body, columns), total)
