"""The Connections list's sparklines: each row's last LIST_SPARKLINE_TESTS TESTs, one bar per TEST.

One query for every row on the page, whatever the page size and history length: the TESTs numbered newest first
per connection (a window function, served by the index testrun_history) and cut at N, reading only the time, the
outcome and the time taken out of the result. The TESTs counted are the connection page's chart's: finished, of the
saved settings (connections/history_page.py). The geometry is computed here; the template only prints it (inline
SVG with classes, no script or style attribute: the Content Security Policy allows neither).
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from connections.runs import RunState, TestRun

SLOT = 6  # the width per TEST, in SVG units (= CSS pixels): a bar 4 wide (the template's) and a gap
HEIGHT = 18  # the template's too
MIN_BAR = 4.0  # the quickest TEST still shows as a bar, its colour readable


@dataclass(frozen=True)
class Bar:
    x: int
    y: float
    height: float
    outcome: str  # ok or failed: the bar's class
    title: str  # when, outcome, time taken


@dataclass(frozen=True)
class Sparkline:
    bars: list[Bar]  # oldest first, the newest at the right edge
    width: int
    text: str  # the text alternative


def for_connections(pks: list[int]) -> dict[int, Sparkline]:
    """Each connection's sparkline, by pk; a connection without a TEST of its saved settings has none."""
    if not pks:
        return {}
    tests: dict[int, list] = {}
    for pk, created_at, ok, elapsed in _recent(pks, settings.LIST_SPARKLINE_TESTS):
        tests.setdefault(pk, []).append((created_at, bool(ok), elapsed or 0.0))
    zone = timezone.get_current_timezone()
    return {pk: _sparkline(sorted(found), settings.LIST_SPARKLINE_TESTS, zone) for pk, found in tests.items()}


def _recent(pks: list[int], count: int):
    """The last `count` TESTs of each connection: numbered in the subquery, their results read only in the outer
    query (a history's older rows are counted off the index order, never parsed)."""
    newest_first = Window(RowNumber(), partition_by=F("connection_id"), order_by=F("created_at").desc())
    numbered = (
        TestRun.objects.filter(connection_id__in=pks, state=RunState.FINISHED)
        .of_saved_settings()
        .annotate(number=newest_first)
        .filter(number__lte=count)
        .values("pk")
    )
    columns = ("connection_id", "created_at", "result__ok", "result__elapsed")
    return TestRun.objects.filter(pk__in=numbered).values_list(*columns)


def _sparkline(tests: list[tuple[datetime, bool, float]], count: int, zone) -> Sparkline:
    top = max(elapsed for _, _, elapsed in tests)
    first_x = (count - len(tests)) * SLOT  # fewer TESTs than bars: they end at the right edge too
    bars = []
    for offset, (created_at, ok, elapsed) in enumerate(tests):
        height = round(max(HEIGHT * elapsed / top, MIN_BAR), 1) if top else float(HEIGHT)
        local = created_at.astimezone(zone)
        title = f"{local:%Y-%m-%d %H:%M} {local.tzname()}: {'available' if ok else 'unavailable'}, {elapsed:.2f} s"
        bars.append(Bar(first_x + offset * SLOT, round(HEIGHT - height, 1), height, "ok" if ok else "failed", title))
    good = sum(bar.outcome == "ok" for bar in bars)
    label = f"Last {len(bars)} TESTs" if len(bars) > 1 else "Last TEST"
    return Sparkline(bars, count * SLOT, f"{label}: {good} available, {len(bars) - good} unavailable")
