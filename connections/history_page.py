"""The connection page's history: availability and latency over the last 30 days, drawn as inline SVG, and the
latest TESTs. Two queries whatever the history's length; the chart's geometry is computed here, the template only
draws it (no script, no style attribute: the Content Security Policy allows neither)."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import median

from django.utils import timezone

from connections.runs import RunState, TestRun

DAYS = 30
LATEST = 20  # rows in the latest TESTs table
SLOT = 20  # the chart's width per day, in SVG units
BAR_TOP, BAR_BOTTOM = 18, 112  # the latency bars' area
MIN_BAR = 2  # a day with TESTs always shows a bar


@dataclass
class Day:
    day: date
    total: int = 0
    good: int = 0
    latencies: list[float] = field(default_factory=list)
    x: int = 0
    bar_y: float = BAR_BOTTOM
    bar_height: float = 0

    @property
    def latency(self) -> float | None:
        return sum(self.latencies) / len(self.latencies) if self.latencies else None

    @property
    def state(self) -> str:
        """The class the chart colours this day with: all good, some bad, all bad, or no TEST."""
        if not self.total:
            return "none"
        return "up" if self.good == self.total else ("down" if not self.good else "mixed")

    @property
    def label(self) -> str:
        if not self.total:
            return f"{self.day:%Y-%m-%d}: no TEST"
        return f"{self.day:%Y-%m-%d}: {self.good} of {self.total} good, {self.latency:.2f} s on average"


@dataclass
class Row:
    when: object
    started_by: str
    source: str
    ok: bool
    failing_step: str
    code: str
    elapsed: float


@dataclass
class History:
    days: list[Day]
    latest: list[Row]
    total: int
    good: int
    median_latency: float | None
    max_latency: float

    @property
    def availability(self) -> float | None:
        return 100 * self.good / self.total if self.total else None

    @property
    def text(self) -> str:
        """The chart's text alternative."""
        if not self.total:
            return f"No TEST in the last {DAYS} days."
        return (
            f"Last {DAYS} days: {self.availability:.0f}% available ({self.good} of {self.total} TESTs good); "
            f"median time taken {self.median_latency:.2f} s."
        )


def summary(connection, now=None) -> History:
    """The connection's last 30 days and latest TESTs (finished ones only; the Edit form's TESTs are listed, but
    they TEST values typed there, not the connection's: the chart leaves them out)."""
    today = timezone.localdate(now or timezone.now())
    first = today - timedelta(days=DAYS - 1)
    finished = finished_tests(connection)
    since = timezone.make_aware(timezone.datetime.combine(first, timezone.datetime.min.time()))
    days = [Day(first + timedelta(days=offset), x=offset * SLOT) for offset in range(DAYS)]
    latencies = []
    counted = finished.of_saved_settings().filter(created_at__gte=since)
    for created_at, result in counted.values_list("created_at", "result"):
        offset = (timezone.localdate(created_at) - first).days
        if not 0 <= offset < DAYS:  # a clock a moment ahead of this server's
            continue
        day = days[offset]
        day.total += 1
        day.good += bool(result and result.get("ok"))
        day.latencies.append((result or {}).get("elapsed", 0.0))
        latencies.append(day.latencies[-1])
    top = max((day.latency for day in days if day.latency is not None), default=0.0)
    _scale(days, top)
    return History(
        days=days,
        latest=_latest(finished),
        total=sum(day.total for day in days),
        good=sum(day.good for day in days),
        median_latency=median(latencies) if latencies else None,
        max_latency=top,
    )


def _scale(days: list[Day], top: float) -> None:
    for day in days:
        if day.latency is None:
            continue
        height = (BAR_BOTTOM - BAR_TOP) * day.latency / top if top else 0
        day.bar_height = round(max(height, MIN_BAR), 1)
        day.bar_y = round(BAR_BOTTOM - day.bar_height, 1)


def finished_tests(connection):
    """The connection's finished TESTs, newest first (the page shows the latest, the API pages through all)."""
    return TestRun.objects.filter(connection=connection, state=RunState.FINISHED).order_by("-created_at")


def _latest(finished) -> list[Row]:
    runs = finished.select_related("started_by")[:LATEST]
    return [row(run) for run in runs]


def row(run: TestRun) -> Row:
    """One TEST of the history as the page's table and the API show it."""
    result = run.result or {}
    labels = {step.get("key"): step.get("label") for step in run.steps}
    step = result.get("step", "")
    return Row(
        when=run.finished_at or run.created_at,
        started_by=run.started_by.get_username() if run.started_by else "",
        source=run.get_source_display(),
        ok=bool(result.get("ok")),
        failing_step=labels.get(step) or step,
        code=result.get("code", ""),
        elapsed=result.get("elapsed", 0.0),
    )
