"""The figures of bench/server_speed.py as Markdown, and its section of bench/RESULTS.md."""

import os
import platform
import re
import time
from collections import defaultdict

from bench.load_report import RESULTS_MD

BEGIN, END = "<!-- server-speed:begin -->", "<!-- server-speed:end -->"
HANGING_RATIO, LIST_SHARE, NEW_FORM_SHARE, SLOW_MS = 1.5, 0.5, 0.4, 2000


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in cpu_info() if line.startswith("model name")), "")
    return f"{platform.machine()} {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}".replace("  ", " ")


def cpu_info() -> list[str]:
    try:
        return open("/proc/cpuinfo").read().splitlines()
    except OSError:
        return []


def verdict(passed: bool) -> str:
    return "yes" if passed else "**NO**"


def hanging_lines(figures: dict) -> list[str]:
    idle, hanging, ended = figures["idle"], figures["hanging"], figures["ended"]
    ratio = hanging["p95"] / idle["p95"]
    worst = max(idle["max"], hanging["max"])
    failures = idle["failures"] + hanging["failures"]
    passed = ratio <= HANGING_RATIO and hanging["max"] <= SLOW_MS and failures == 0 and hanging["slow"] == 0
    lines = [
        f"The Connections list (50 saved connections; its first page, 25 rows) read by {figures['reading']}; the "
        f"{figures['tests']} CRM2011+ NTLM connections TESTed from the list's TEST buttons, each TEST's status read "
        "every second as its page does. Their servers (127.0.0.2 and on) accept and never answer.",
        "",
        "| Connections list | Reads | p50 | p95 | max | Failed | Over 2 s |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, pages in (("idle", idle), (f"{figures['tests']} TESTs hanging", hanging)):
        lines.append(
            f"| {label} | {pages['count']} | {pages['p50']:.0f} ms | {pages['p95']:.0f} ms | {pages['max']:.0f} ms | "
            f"{pages['failures']} | {pages['slow']} |"
        )
    lines += ["", f"Hanging p95 / idle p95: **{ratio:.2f}×** (target at most {HANGING_RATIO}×); slowest read "]
    lines[-1] += f"{worst:.0f} ms; failed {failures}. Target met: {verdict(passed)}."
    lines += ["", f"The {figures['tests']} TESTs ({figures['started']} started, {figures['status_failures']} status"]
    lines[-1] += " reads failed), as their status endpoint ended them:"
    return lines + [""] + ended_lines(ended)


def ended_lines(ended: list) -> list[str]:
    """The TESTs' results, the same message for another server or budget counted as one; when they were seen done."""
    groups = defaultdict(list)
    for message, seconds in ended:
        general = re.sub(r"\d+\.\d+ s time budget", "N s time budget", re.sub(r"127\.0\.0\.\d+", "127.0.0.x", message))
        groups[general].append(seconds)
    lines = []
    for message, times in sorted(groups.items(), key=lambda group: -len(group[1])):
        seen = [t for t in times if t is not None]
        when = f" (done after {min(seen):.0f} to {max(seen):.0f} s)" if seen else ""
        lines.append(f"- {len(times)} × {message}{when}")
    return lines


def wrk_lines(figures: dict) -> list[str]:
    pages = figures["pages"]
    lines = ["| Page | Requests/s | Requests | Not 200 | Socket errors | p50 | p99 | Each round (requests/s) |"]
    lines.append("|---|---|---|---|---|---|---|---|")
    for label, run in pages.items():
        lines.append(
            f"| {label} | **{run['rps']:.0f}** | {run['requests']} | {run['not_200']} | {run['socket_errors']} | "
            f"{run['p50']:.0f} ms | {run['p99']:.0f} ms | {', '.join(f'{rps:.0f}' for rps in run['rounds'])} |"
        )
    sign_in = pages["sign-in page"]["rps"]
    list_share = pages["Connections list"]["rps"] / sign_in
    form_share = pages["New connection form"]["rps"] / sign_in
    clean = all(run["not_200"] == 0 and run["socket_errors"] == 0 for run in pages.values())
    lines = [
        "The sign-in page anonymous; the Connections list (its first page, 25 of the 50) and the New "
        "connection form signed in (the session cookie).",
        "",
    ] + lines
    lines += ["", f"Connections list / sign-in page: **{list_share:.0%}** (target at least {LIST_SHARE:.0%}, met: "]
    lines[-1] += f"{verdict(list_share >= LIST_SHARE)}); New connection form / sign-in page: **{form_share:.0%}** "
    lines[-1] += f"(target at least {NEW_FORM_SHARE:.0%}, met: {verdict(form_share >= NEW_FORM_SHARE)}); every "
    lines[-1] += f"answer a 200: {verdict(clean)}."
    return lines


def throughput_lines(figures: dict) -> list[str]:
    run = figures["throughput"]
    worker = run["worker"]
    return [
        f"**{run['per_minute']:.0f} TESTs a minute** ({run['counted']} ended “Connection available” in "
        f"{figures['throughput_seconds'] - figures['warm_up']:.0f} s after {figures['warm_up']:.0f} s of warm-up; "
        f"{run['total']} in all) with {figures['delay'] * 1000:.0f} ms added to every answer of Entra ID and "
        f"Dataverse, {figures['throughput_clients']} people TESTing at once; TEST p50 {run['p50']:.0f} ms, p95 "
        f"{run['p95']:.0f} ms (POST to done, as the page sees it, queue included); failed {run['failures']}.",
        "",
        f"On the worker (its TestRun rows, same window): {worker['finished']} finished; each ran "
        f"{worker['run_p50']:.0f} ms (p50) after {worker['wait_p50']:.0f} ms in the queue; its "
        f"{worker['threads']} threads busy {worker['busy']:.0%} of the time (near 100%: the worker, not the "
        "clients, set the pace).",
    ]


def memory_lines(figures: dict) -> list[str]:
    lines = ["| Process | Idle | After the runs |", "|---|---|---|"]
    idle, after = figures["memory_idle"], figures["memory_after"]
    for i, (before, then) in enumerate(zip(idle["web_workers"], after["web_workers"], strict=False)):
        lines.append(f"| gunicorn web worker {i + 1} | {before:.0f} MiB | {then:.0f} MiB |")
    lines.append(f"| gunicorn master | {idle['master']:.0f} MiB | {after['master']:.0f} MiB |")
    lines.append(
        f"| gunicorn, master and workers | **{idle['web_total']:.0f} MiB** | **{after['web_total']:.0f} MiB** |"
    )
    lines.append(f"| TEST worker (run_huey) | **{idle['test_worker']:.0f} MiB** | **{after['test_worker']:.0f} MiB** |")
    return lines


def section(figures: dict, quick: bool) -> str:
    setup = (
        f"Machine: {machine()}; {time.strftime('%Y-%m-%d %H:%M')}; {'--quick' if quick else 'full run'}. "
        "gunicorn as the Procfile starts it (gthread, 2 workers × 8 threads, WEB_TIMEOUT 60, access log) and the TEST "
        "worker (run_huey, its default threads) on a fresh SQLite database and SQLite queue; TEST against the local "
        "simulator; "
        "the clients, wrk, the simulator and the servers share the machine (load average "
        f"{figures['load_average'][0]:.1f} at the start, {figures['load_average'][1]:.1f} at the end)."
    )
    lines = [BEGIN, "## Server speed", "", setup, "", "### Connections list while TESTs hang on silent servers", ""]
    lines += hanging_lines(figures) + ["", f"### Requests per second (wrk, {figures['wrk_settings']})", ""]
    lines += wrk_lines(figures) + ["", "### TESTs a minute, one worker", ""] + throughput_lines(figures)
    lines += ["", "### Memory (VmRSS)", ""] + memory_lines(figures) + [END]
    return "\n".join(lines)


def record(text: str) -> None:
    """Replace the Server speed section of RESULTS.md (or add it at the end); the rest is left as written."""
    current = RESULTS_MD.read_text()
    pattern = re.compile(rf"{re.escape(BEGIN)}.*?{re.escape(END)}", re.S)
    updated = pattern.sub(lambda _: text, current) if pattern.search(current) else current.rstrip() + "\n\n" + text
    RESULTS_MD.write_text(updated.rstrip() + "\n")
