"""How the Web API writes rows: ``$select``, server-driven paging cookies, and the annotations a client asks for.

Formatted values are what Dataverse shows a user with English (United States) settings in UTC: money
``$20,000.00``, whole numbers ``1,200``, dates ``3/1/2024 9:30 AM``, option and two-option labels, lookup names.
Lookups also get ``Microsoft.Dynamics.CRM.lookuplogicalname`` and ``associatednavigationproperty`` when asked.
(Money columns' ``_transactioncurrencyid_value`` is not simulated.)
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from urllib.parse import quote, unquote

from .tables import LOOKUP_TYPES, OPTION_TYPES, Column, Table

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
NAVIGATION = "Microsoft.Dynamics.CRM.associatednavigationproperty"
MAX_PAGE_SIZE = 5000
_PAGE = re.compile(r'pagenumber="(?P<page>\d+)"')


def names(select: str | None) -> list[str]:
    return [name.strip() for name in (select or "").split(",") if name.strip()]


def select_columns(table: Table, select: str | None) -> list[Column]:
    if not select:
        return list(table.columns.values())
    by_property = {column.property_name: column for column in table.columns.values()}
    chosen = []
    for name in names(select):
        if name not in by_property:
            raise ValueError(
                f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{table.logical_name}'."
            )
        chosen.append(by_property[name])
    return chosen


def requested_page_size(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    size = int(value)
    return size if 0 < size <= MAX_PAGE_SIZE else None


def page_number(skiptoken: str | None) -> int:
    match = _PAGE.search(unquote(skiptoken or ""))
    return int(match["page"]) if match else 1


def page_of(rows: list[dict], page: int, size: int, endless: bool) -> list[dict]:
    if not endless:
        return rows[(page - 1) * size : page * size]
    return [rows[i % len(rows)] for i in range((page - 1) * size, page * size)] if rows else []


def next_link(base: str, table: Table, params: dict, page: int) -> str:
    paging = f"%253ccookie%2520page%253d%2522{page - 1}%2522%253e"
    cookie = f'<cookie pagenumber="{page}" pagingcookie="{paging}" istracking="False" />'
    query = [f"{k}={v}" for k, v in params.items() if k != "$skiptoken"]
    query.append("$skiptoken=" + quote(cookie, safe=""))
    return f"{base}{table.entity_set_name}?" + "&".join(query)


def patterns(annotations: str | None) -> list[str]:
    return [p.strip() for p in (annotations or "").split(",") if p.strip() and not p.strip().startswith("-")]


def _wants(patterns: list[str], annotation: str) -> bool:
    return any(fnmatch.fnmatchcase(annotation, pattern) for pattern in patterns)


def render(table: Table, row: dict, columns: list[Column], patterns: list[str]) -> dict:
    out: dict = {"@odata.etag": f'W/"{row["@version"]}"'}
    for column in columns:
        value, prop = row.get(column.logical_name), column.property_name
        if value is not None and column.type in LOOKUP_TYPES:
            guid, name, target = (*value, column.target)[:3] if isinstance(value, tuple) else (value, "", column.target)
            if _wants(patterns, FORMATTED):
                out[f"{prop}@{FORMATTED}"] = name
            if _wants(patterns, NAVIGATION):
                suffix = f"_{target}" if column.type == "Customer" else ""
                out[f"{prop}@{NAVIGATION}"] = f"{column.logical_name}{suffix}"
            if _wants(patterns, LOOKUP_NAME):
                out[f"{prop}@{LOOKUP_NAME}"] = target
            value = guid
        elif value is not None:
            value = _json_value(column, value)
            formatted = _formatted(column, value)
            if formatted is not None and _wants(patterns, FORMATTED):
                out[f"{prop}@{FORMATTED}"] = formatted
        out[prop] = value
    out[table.primary_id] = row[table.primary_id]
    return out


def _json_value(column: Column, value):
    if column.type == "DateTime":
        moment = as_datetime(value)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def as_datetime(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _formatted(column: Column, value) -> str | None:
    """What Dataverse shows a user with English (United States) settings in UTC."""
    if column.type in OPTION_TYPES:
        return column.options.get(value, str(value))
    if column.type == "Money":
        return f"${value:,.2f}"
    if column.type in ("Integer", "BigInt"):
        return f"{value:,}"
    if column.type in ("Decimal", "Double"):
        return f"{value:,.2f}"
    if column.type == "Boolean":
        return column.options.get(int(bool(value)), "Yes" if value else "No")
    if column.type == "DateTime":
        moment = as_datetime(value)
        return f"{moment.month}/{moment.day}/{moment.year} {moment.strftime('%I:%M %p').lstrip('0')}"
    return None
