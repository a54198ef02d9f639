"""The figures of bench/load.py: a table per run (count, errors, p50, p95 by kind of request), and its section of
bench/RESULTS.md."""

import os
import platform
import re
import statistics
import time
from pathlib import Path

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
# The kinds of request, in the order of the tables: writes first. A TEST is timed from its POST to the status that
# says it is done (`test`, `test_form`: whole TESTs, not requests); `test_queue` times the POSTs (queued, answered at
# once), `test_poll` the status reads.
WHOLE_TESTS = ("test", "test_form")
WRITES = ("sign_in", "sign_in_wrong", "create", "edit", "test", "test_form", "test_queue")
WRITES += ("start_trial", "notify_users", "mark_read")
KINDS = (*WRITES, "test_poll", "notifications", "list", "open_form", "sign_in_page")


def percentile(samples: list[float], share: float) -> float:
    if len(samples) < 2:
        return samples[0] if samples else 0.0
    return statistics.quantiles(samples, n=100, method="inclusive")[round(share * 100) - 1]


def headline(run: dict) -> str:
    tally, lost = run["tally"], run["lost"]
    made = sum(len(samples) for kind, samples in tally.timings.items() if kind not in WHOLE_TESTS)
    which = ", ".join(f"{what} {count}" for what, count in lost.items() if count)
    return (
        f"**{run['database']}, {run['clients']} clients**: {made} requests in {run['elapsed']:.1f} s "
        f"({made / run['elapsed']:.0f}/s); errors **{sum(tally.errors.values())}**; "
        f"lost writes **{sum(lost.values())}**" + (f" ({which})" if which else "")
    )


def table(run: dict) -> list[str]:
    tally = run["tally"]
    lines = [headline(run), "", "| Kind | Count | Errors | p50 | p95 |", "|---|---|---|---|---|"]
    for kind in KINDS:
        samples = tally.timings.get(kind, [])
        if samples:
            p50, p95 = percentile(samples, 0.5) * 1000, percentile(samples, 0.95) * 1000
            lines.append(f"| {kind} | {len(samples)} | {tally.errors[kind]} | {p50:.0f} ms | {p95:.0f} ms |")
    if tally.samples:
        lines += ["", "Errors seen: " + "; ".join(sorted(set(tally.samples))[:5])]
    return lines + [""]


def section(label: str, runs: list[dict], args) -> str:
    lines = [f"<!-- load:{label}:begin -->", f"## Load “{label}” ({time.strftime('%Y-%m-%d %H:%M')})", ""]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines.append(
        f"Machine: {machine}; gunicorn gthread 2 workers × 8 threads, APP_ENV=production over HTTP on loopback, "
        f"Redis cache; the TEST worker beside it (run_huey, 4 threads; its queue a SQLite file, or Redis with "
        f"PostgreSQL); {args.operations} operations per client after signing in; the clients, the server, the "
        f"worker and the simulator share the machine. {args.note}".rstrip()
    )
    lines.append("")
    for run in runs:
        lines += table(run)
    lines.append(f"<!-- load:{label}:end -->")
    return "\n".join(lines)


def record(label: str, text: str, kind: str = "load") -> None:
    """Replace this label's section of RESULTS.md (or add it at the end); the rest is left as written. `kind` is the
    marker's prefix: `load` for bench/load.py, `list` for bench/list_scale.py."""
    current = RESULTS_MD.read_text()
    begin, end = (re.escape(f"<!-- {kind}:{label}:{edge} -->") for edge in ("begin", "end"))
    pattern = re.compile(rf"{begin}.*?{end}", re.S)
    updated = pattern.sub(lambda _: text, current) if pattern.search(current) else current.rstrip() + "\n\n" + text
    RESULTS_MD.write_text(updated.rstrip() + "\n")
