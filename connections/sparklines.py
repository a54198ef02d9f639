"""The Connections list's sparklines: each row's last LIST_SPARKLINE_TESTS TESTs, one bar each.

No query of their own: a column of the page's rows query, whatever the page size and history length, reading N
TESTs a connection from the index testrun_history (connection, newest first) and the result (the outcome and the time
taken) of those only.
The TESTs drawn are the ones the connection page's chart counts (connections/history_page.py): finished, of the
saved settings (`TestRunQuerySet.of_saved_settings`; the Edit form's TESTs of typed values are not).

The list is the busiest page, so this is written for speed (docs/decisions/0002-rendering-hot-loops.md): the SQL is
written here, not compiled by the ORM at every request (that alone cost more than the whole query), and each row's
bars are one string of SVG the template prints as it is (classes, no script or style attribute: the Content
Security Policy allows neither).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from django.conf import settings
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from connections.runs import RunSource, RunState

SLOT = 6  # the width per TEST, in SVG units (= CSS pixels): a bar 4 wide and a gap; the newest at the right
HEIGHT = 18  # the template's too
MIN_BAR = 4  # the quickest TEST still shows as a bar, its colour readable

# Each row's last TESTs, as one more column of the page's own query (no query of its own): a correlated subquery
# reads the connection's newest N TESTs from the index testrun_history (connection, newest first), only their time,
# outcome and time taken out of the result JSON, and joins them into one text ("time|ok|elapsed;…"). The TESTs
# counted, twice: TestRunQuerySet.of_saved_settings, finished; `state NOT IN` (there are three states) so that
# SQLite, without statistics, reads the connection's index rather than the queue's. SQLite's time as text: its column
# type would have Django's converter parse it with a regular expression, ten times slower.
_ITEM = {
    "postgresql": "r.created_at::text || '|' || coalesce(r.result ->> 'ok', 'false') || '|' || "
    "coalesce(r.result ->> 'elapsed', '0')",
    "sqlite": "CAST(r.created_at AS TEXT) || '|' || coalesce(json_extract(r.result, '$.ok'), 0) || '|' || "
    "coalesce(json_extract(r.result, '$.elapsed'), 0)",
}
_JOINED = {"postgresql": "string_agg(item, ';')", "sqlite": "group_concat(item, ';')"}
_RECENT = """(SELECT {joined} FROM (
    SELECT {item} AS item FROM connections_testrun r
    WHERE r.connection_id = connections_connection.id AND r.state NOT IN (%s, %s)
        AND NOT (r.source = %s AND r.fingerprint = '') AND r.source <> %s
    ORDER BY r.created_at DESC LIMIT %s
) recent)"""


@dataclass(frozen=True)
class Sparkline:
    bars: SafeString  # the bars' SVG, oldest first, the newest at the right edge
    count: int
    good: int
    width: int

    @property
    def text(self) -> str:
        """The text alternative."""
        label = f"Last {self.count} TESTs" if self.count > 1 else "Last TEST"
        return f"{label}: {self.good} available, {self.count - self.good} unavailable"


def recent_tests() -> RawSQL:
    """The annotation that reads each row's last TESTs with the page's rows (`drawn` turns it into its sparkline)."""
    sql = _RECENT.format(joined=_JOINED[connection.vendor], item=_ITEM[connection.vendor])
    excluded = [RunState.QUEUED.value, RunState.RUNNING.value, RunSource.FORM.value, RunSource.NEW_CREDENTIAL.value]
    return RawSQL(sql, [*excluded, settings.LIST_SPARKLINE_TESTS])  # noqa: S611 (no input: constants and a setting)


class Drawer:
    """Draws each row's sparkline from its `recent_tests` column, in the current time zone."""

    def __init__(self):
        self.count = settings.LIST_SPARKLINE_TESTS
        self.when = _Times(timezone.get_current_timezone())

    def __call__(self, joined: str | None) -> Sparkline | None:
        """None for a connection without a TEST of its saved settings."""
        if not joined:
            return None
        tests = []
        for item in joined.split(";"):
            created_at, ok, elapsed = item.split("|")
            tests.append((created_at, ok in ("1", "true"), float(elapsed)))
        return _sparkline(tests, self.count, self.when)


class _Times:
    """A stored time (UTC; SQLite's as text) as "2026-11-30 09:00 UTC" in the current time zone."""

    def __init__(self, zone):
        self.zone, self.utc = zone, str(zone) == "UTC"

    def __call__(self, stored: datetime | str) -> str:
        if isinstance(stored, str):
            if self.utc:  # the default: SQLite's text is the answer (a bar's title costs no datetime at all)
                return f"{stored[:16]} UTC"
            stored = datetime.fromisoformat(stored).replace(tzinfo=UTC)
        local = stored.astimezone(self.zone)
        return f"{local.isoformat(' ', 'minutes')[:16]} {escape(local.tzname() or '')}"


def _sparkline(found: list[tuple], count: int, when: _Times) -> Sparkline:
    newest_first = sorted(found, reverse=True)[:count]  # more than N only if TESTs began at the same instant
    top = max([test[2] or 0.0 for test in newest_first])
    scale = HEIGHT / top if top else 0.0
    x, good, bars = count * SLOT, 0, []
    for created_at, ok, elapsed in newest_first:
        x -= SLOT
        elapsed = elapsed or 0.0
        height = max(round(elapsed * scale), MIN_BAR) if top else HEIGHT
        outcome, said = ("ok", "available") if ok else ("failed", "unavailable")
        good += outcome == "ok"
        bars.append(
            f'<rect class="sparkline-{outcome}" x="{x}" y="{HEIGHT - height}" width="4" height="{height}">'
            f"<title>{when(created_at)}: {said}, {elapsed:.2f} s</title></rect>"
        )
    bars.reverse()  # oldest first, as they are read
    return Sparkline(mark_safe("".join(bars)), len(bars), good, count * SLOT)  # noqa: S308 (numbers; the zone's name escaped)
