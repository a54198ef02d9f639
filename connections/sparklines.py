"""The Connections list's sparklines: each row's last LIST_SPARKLINE_TESTS TESTs, one bar each.

One query for every row on the page, whatever the page size and history length: each connection's TESTs numbered
newest first (a window function, in the order of the index testrun_history) and cut at N; only the rows kept have
their result read (the outcome and the time taken). The TESTs drawn are the ones the connection page's chart counts
(connections/history_page.py): finished, of the saved settings (`TestRunQuerySet.of_saved_settings`).

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
    "postgresql": "created_at, (result ->> 'ok') = 'true', (result ->> 'elapsed')::float8",
    "sqlite": "CAST(created_at AS TEXT), json_extract(result, '$.ok'), json_extract(result, '$.elapsed')",
}
# Not finished: `state NOT IN` (there are three states) leaves the choice of index to the connection's, which
# SQLite would otherwise not make without statistics. Of the saved settings: as TestRunQuerySet.of_saved_settings.
_RECENT = """
SELECT connection_id, number, {columns} FROM (
    SELECT connection_id, created_at, result,
           ROW_NUMBER() OVER (PARTITION BY connection_id ORDER BY created_at DESC) AS number
    FROM connections_testrun
    WHERE connection_id IN ({pks}) AND state NOT IN (%s, %s) AND NOT (source = %s AND fingerprint = '')
) numbered WHERE number <= %s
"""


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
    return {pk: _sparkline(newest_first, count, when) for pk, newest_first in tests.items()}


def _recent(pks: list[int], count: int) -> list[tuple]:
    sql = _RECENT.format(columns=_COLUMNS[connection.vendor], pks=", ".join(["%s"] * len(pks)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*pks, RunState.QUEUED.value, RunState.RUNNING.value, RunSource.FORM.value, count])
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


def _sparkline(tests: list[tuple], count: int, when: _Times) -> Sparkline:
    top = max(test[3] or 0.0 for test in tests)
    scale = HEIGHT / top if top else 0.0
    bars = [""] * count  # by place: the newest (number 1) at the right edge, in whatever order the rows came
    for number, created_at, ok, elapsed in tests:
        elapsed = elapsed or 0.0
        height = max(round(elapsed * scale), MIN_BAR) if top else HEIGHT
        bars[count - number] = (
            f'<rect class="sparkline-{"ok" if ok else "failed"}" x="{(count - number) * SLOT}" y="{HEIGHT - height}" '
            f'width="4" height="{height}"><title>{when(created_at)}: {"available" if ok else "unavailable"}, '
            f"{elapsed:.2f} s</title></rect>"
        )
    good = sum(1 for test in tests if test[2])
    return Sparkline(mark_safe("".join(bars)), len(tests), good, count * SLOT)  # noqa: S308 (numbers; the zone's name escaped)
