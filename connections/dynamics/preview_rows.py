"""What a preview shows, built from the server's answers: the table's columns and its rows as text.

Pure functions over parsed JSON (Web API table and column definitions, Web API rows with formatted values, OData v2
entries), and the one bounded read every preview request goes through. Nothing here logs: the rows are customer
data, and a value never goes into an exception's message either.
"""

import json
from dataclasses import dataclass, field

from connections.dynamics import http
from connections.dynamics.errors import BudgetExceededError, CheckError

MAX_ROWS = 10
MAX_COLUMNS = 150
MAX_BODY_BYTES = 1024 * 1024
MAX_CELL_CHARS = 300
CHUNK_BYTES = 64 * 1024
FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_TYPES = ("Lookup", "Customer", "Owner")
ODATA_V2_HIDDEN = ("__metadata", "__deferred")


@dataclass(frozen=True)
class PreviewColumn:
    logical_name: str
    display_name: str
    type: str

    @property
    def property_name(self) -> str:
        """The Web API's property: a lookup comes as `_x_value`."""
        return f"_{self.logical_name}_value" if self.type in LOOKUP_TYPES else self.logical_name


@dataclass(frozen=True)
class Cell:
    text: str  # what a user of Dynamics reads: the formatted value, else the value itself
    raw: str = ""  # the stored value, when it differs (a lookup's GUID, an option's number)
    empty: bool = False
    cut: bool = False  # longer than MAX_CELL_CHARS: the rest is not shown


@dataclass(frozen=True)
class TableDefinition:
    logical_name: str
    entity_set: str
    display_name: str = ""
    primary_id: str = ""
    primary_name: str = ""


@dataclass
class Rows:
    columns: list[PreviewColumn]
    rows: list[list[Cell]]
    total_columns: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Answer:
    """One answer of the server, its body read up to the byte cap (`too_large` when it went past it)."""

    response: object = field(repr=False)
    body: bytes = field(repr=False)
    too_large: bool = False

    @property
    def status(self) -> int:
        return self.response.status_code


def fetch(client: http.BoundedClient, url: str, headers: dict, cap: int = MAX_BODY_BYTES) -> Answer:
    """GET `url`, reading at most `cap` bytes of the body in chunks, the time budget checked between them."""
    response = client.get(url, headers=headers, stream=True)
    chunks, size = [], 0
    with response:
        while size <= cap:
            chunk = response.raw.read1(CHUNK_BYTES, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if http.current_deadline().remaining() <= 0:
                raise BudgetExceededError()
    return Answer(response, b"".join(chunks)[: cap + 1], too_large=size > cap)


def json_body(answer: Answer, action: str) -> dict:
    """The JSON object of a 200 answer (the caller handled the others); the document is never in the error."""
    try:
        body = json.loads(answer.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise CheckError("not_dynamics", f"The server answered {action} with HTTP 200 but not with JSON.", "")
    return body


def label(value) -> str:
    """A Label's text (`UserLocalizedLabel`, else the first localized one); '' when it has none."""
    if not isinstance(value, dict):
        return ""
    chosen = value.get("UserLocalizedLabel") or next(iter(value.get("LocalizedLabels") or []), None) or {}
    return str(chosen.get("Label") or "")


def definition(body: dict, logical_name: str) -> TableDefinition:
    return TableDefinition(
        logical_name,
        str(body.get("EntitySetName") or ""),
        label(body.get("DisplayName")),
        str(body.get("PrimaryIdAttribute") or ""),
        str(body.get("PrimaryNameAttribute") or ""),
    )


def columns_of(attributes: list, table: TableDefinition) -> tuple[list[PreviewColumn], int]:
    """Every readable column (helper columns, whose AttributeOf names another, left out): the primary name and
    key first, then by logical name; at most MAX_COLUMNS of them, and how many there were."""
    found = [
        PreviewColumn(
            str(a["LogicalName"]),
            label(a.get("DisplayName")) or str(a["LogicalName"]),
            str(a.get("AttributeType") or ""),
        )
        for a in attributes
        if isinstance(a, dict)
        and a.get("LogicalName")
        and a.get("AttributeOf") is None
        and a.get("IsValidForRead", True)
    ]
    first = {table.primary_name: 0, table.primary_id: 1}
    found.sort(key=lambda column: (first.get(column.logical_name, 2), column.logical_name))
    return found[:MAX_COLUMNS], len(found)


def text_of(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def cell(value, formatted=None) -> Cell:
    """A cell: the formatted value with the stored one beside it, cut at MAX_CELL_CHARS; empty for null or ''."""
    if value is None or value == "":
        return Cell("", empty=True)
    raw = text_of(value)
    text = raw if formatted is None else text_of(formatted)
    cut = len(text) > MAX_CELL_CHARS
    return Cell(text[:MAX_CELL_CHARS], raw[:MAX_CELL_CHARS] if raw != text else "", cut=cut)


def web_api_rows(body: dict, columns: list[PreviewColumn]) -> list[list[Cell]]:
    values = body.get("value")
    rows = [row for row in values if isinstance(row, dict)] if isinstance(values, list) else []
    return [
        [cell(row.get(c.property_name), row.get(f"{c.property_name}@{FORMATTED}")) for c in columns]
        for row in rows[:MAX_ROWS]
    ]


def odata_v2_value(value):
    """OData v2's complex values as a user reads them: a lookup's Name (its Id beside it), money and option
    set Values, and `/Date(ms)/` left as the service wrote it."""
    if not isinstance(value, dict):
        return value, None
    if "Id" in value and "Name" in value:
        return value.get("Id"), value.get("Name")
    if "Value" in value:
        return value.get("Value"), None
    return {k: v for k, v in value.items() if k not in ODATA_V2_HIDDEN} or None, None


def odata_v2_rows(body: dict) -> Rows:
    """OData v2 entries: the columns are the properties of the entries returned (the service has no per-table
    column list to read without $metadata), in the order of the first entry."""
    data = body.get("d")
    results = data.get("results", data) if isinstance(data, dict) else data
    entries = [e for e in results if isinstance(e, dict)][:MAX_ROWS] if isinstance(results, list) else []
    names: dict[str, None] = {}
    for entry in entries:
        names.update((name, None) for name in entry if name not in ODATA_V2_HIDDEN)
    columns = [PreviewColumn(name, name, "") for name in names][:MAX_COLUMNS]
    rows = [[cell(*odata_v2_value(entry.get(c.logical_name))) for c in columns] for entry in entries]
    return Rows(columns, rows, len(names), ["OData v2 shows the columns of the rows it returned."])
