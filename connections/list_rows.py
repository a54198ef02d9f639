"""The Connections page's rows, ready to print: one query for the page, a handful of URL reversals in all.

The page is the one everybody opens first and most often. The template loops over plain values: each row's
links come from one reversal per kind of link (not four per row), its Last TEST is formatted here, its recent
TESTs' sparkline from one more column of the page's query, and every row's TEST button submits the page's one
CSRF-protected form (`form="list-test"` with its own `formaction`).
"""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from connections import expiry, sparklines
from connections.models import TestStatus

# What the page shows, read as plain values (no model instances); the secrets, the token cache and the last
# TEST's steps stay in the database.
LIST_COLUMNS = (
    "pk",
    "name",
    "crm_version",
    "url",
    "azure_tenant",
    "owner_id",
    "owner__username",
    "last_test_status",
    "last_tested_at",
    "health",
    *(column for column in expiry.COLUMNS if column != "crm_version"),
)
COLUMNS = (*LIST_COLUMNS, "recent_tests")  # with the sparklines' annotation (sparklines.recent_tests)
_PLACEHOLDER = 2_147_483_647  # an id no row has: reversed once, then replaced by each row's own


@dataclass(frozen=True)
class Row:
    pk: int
    name: str
    crm_version: str
    url_host: str
    azure_tenant: str
    owner: str
    status: str  # available, unavailable, or "" (never tested)
    tested_at: datetime | None
    tested_iso: str
    tested_text: str
    health: str  # up, down, or "" (unknown)
    expiry_badge: str  # "Expired", "Expires in 5 days", or "" (fine, or not known)
    expiry_expired: bool
    expiry_date: str
    sparkline: sparklines.Sparkline | None  # the last TESTs, a column of the page's query (connections/sparklines.py)
    can_manage: bool
    detail_url: str
    test_url: str
    edit_url: str
    delete_url: str


class _Links:
    """Each row's links, from one reversal of each URL name."""

    def __init__(self, *names: str):
        self._patterns = {name: reverse(f"connections:{name}", args=[_PLACEHOLDER]) for name in names}

    def __call__(self, name: str, pk: int) -> str:
        return self._patterns[name].replace(str(_PLACEHOLDER), str(pk), 1)


def table_body(connections: list[dict], *, user, is_administrator: bool, crm_active: bool) -> SafeString:
    """The rows' HTML (jinja2/connections/list_rows.html: autoescaped, compiled to Python)."""
    context = {"rows": rows(connections, user=user, is_administrator=is_administrator), "crm_active": crm_active}
    return mark_safe(render_to_string("connections/list_rows.html", context, using="jinja2"))  # noqa: S308


def _minutes(local: datetime) -> str:
    """date_format(local, "Y-m-d H:i T"), "2026-05-01 10:30 UTC", for a twentieth of its time."""
    return f"{local.isoformat(' ', 'minutes')[:16]} {local.tzname()}"


def rows(connections: list[dict], *, user, is_administrator: bool) -> list[Row]:
    link = _Links("detail", "test", "edit", "delete")
    now = timezone.now()
    draw = sparklines.Drawer()
    return [_row(connection, link, user.pk, is_administrator, now, draw) for connection in connections]


def _row(values: dict, link: _Links, user_pk: int, is_administrator: bool, now: datetime, draw) -> Row:
    pk, tested_at, owner_id = values["pk"], values["last_tested_at"], values["owner_id"]
    local = timezone.localtime(tested_at) if tested_at else None
    ends = expiry.effective(values)
    return Row(
        pk=pk,
        name=values["name"],
        crm_version=values["crm_version"],
        url_host=urlsplit(values["url"]).hostname or "",
        azure_tenant=values["azure_tenant"],
        owner=values["owner__username"] or "",
        status=values["last_test_status"] or TestStatus.NEVER,
        tested_at=tested_at,
        tested_iso=local.isoformat() if local else "",
        tested_text=_minutes(local) if local else "",
        health=values["health"],
        expiry_badge=ends.badge(now) if ends else "",
        expiry_expired=bool(ends and ends.level(now) == expiry.EXPIRED),
        expiry_date=f"{ends.expires_at:%Y-%m-%d}" if ends else "",
        sparkline=draw(values.get("recent_tests")),
        can_manage=is_administrator or owner_id == user_pk,
        detail_url=link("detail", pk),
        test_url=link("test", pk),
        edit_url=link("edit", pk),
        delete_url=link("delete", pk),
    )
