"""The Connections list's sparklines: each row's last LIST_SPARKLINE_TESTS TESTs, one bar each.

One query for every row on the page, whatever the page size and history length, reading N TESTs a connection from
the index testrun_history (connection, newest first) and the result (the outcome and the time taken) of those only.
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
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from connections.runs import RunSource, RunState

SLOT = 6  # the width per TEST, in SVG units (= CSS pixels): a bar 4 wide and a gap; the newest at the right
HEIGHT = 18  # the template's too
MIN_BAR = 4  # the quickest TEST still shows as a bar, its colour readable

# The time, the outcome and the time taken, read out of the result JSON of the kept rows only. SQLite's time as
# text: its column type would have Django's converter parse it with a regular expression, ten times slower.
_COLUMNS = {
    "postgresql": "r.created_at, (r.result ->> 'ok') = 'true', (r.result ->> 'elapsed')::float8",
    "sqlite": "CAST(r.created_at AS TEXT), json_extract(r.result, '$.ok'), json_extract(r.result, '$.elapsed')",
}
# Per connection, the time of its Nth newest TEST (read from testrun_history, newest first, N rows at most), then
# its TESTs since then (the same index, a range): the work is the page's N TESTs a row, however long the history.
# (A window function numbering every TEST reads every TEST of the page's connections: 12 ms more at 400 each.)
# The TESTs counted, twice: TestRunQuerySet.of_saved_settings, finished; `state NOT IN` (there are three states) so
# that SQLite, without statistics, reads the connection's index (testrun_history) rather than the queue's.
_RECENT = """
WITH cutoff AS (
    SELECT c.id AS connection_id, (
        SELECT x.created_at FROM connections_testrun x
        WHERE x.connection_id = c.id AND x.state NOT IN (%s, %s) AND NOT (x.source = %s AND x.fingerprint = '')
            AND x.source <> %s
        ORDER BY x.created_at DESC LIMIT 1 OFFSET %s
    ) AS since
    FROM connections_connection c WHERE c.id IN ({pks})
)
SELECT r.connection_id, {columns}
FROM cutoff JOIN connections_testrun r ON r.connection_id = cutoff.connection_id
WHERE r.created_at >= COALESCE(cutoff.since, %s)
    AND r.state NOT IN (%s, %s) AND NOT (r.source = %s AND r.fingerprint = '') AND r.source <> %s
"""
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)  # "since": a connection with fewer than N TESTs has all of them drawn


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


def for_connections(pks: list[int]) -> dict[int, Sparkline]:
    """Each connection's sparkline, by pk; a connection without a TEST of its saved settings has none."""
    if not pks:
        return {}
    count = settings.LIST_SPARKLINE_TESTS
    tests: dict[int, list] = {}
    for row in _recent(pks, count):
        tests.setdefault(row[0], []).append(row[1:])
    when = _Times(timezone.get_current_timezone())
    return {pk: _sparkline(found, count, when) for pk, found in tests.items()}


def _recent(pks: list[int], count: int) -> list[tuple]:
    sql = _RECENT.format(columns=_COLUMNS[connection.vendor], pks=", ".join(["%s"] * len(pks)))
    counted = [RunState.QUEUED.value, RunState.RUNNING.value, RunSource.FORM.value, RunSource.NEW_CREDENTIAL.value]
    epoch = connection.ops.adapt_datetimefield_value(_EPOCH)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*counted, count - 1, *pks, epoch, *counted])
        return cursor.fetchall()


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
