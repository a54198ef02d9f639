"""The measurements of bench/server_speed.py: pages read while TESTs hang, wrk's requests per second, TESTs a minute.

The clients are bench/load_clients.py's (`LoadClient`: a `requests` session, each request timed and checked); they
share the signed-in administrator's cookies, as tabs of one browser do.
"""

import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.load_clients import FOUND, OK, LoadClient
from bench.load_report import percentile

SLOW = 2.0  # seconds: a page slower than this counts against the target, as a failure does
WRK_SCRIPT = Path(__file__).resolve().parent / "server_speed.lua"
JSON_ONLY = {"Accept": "application/json"}  # as the page's script asks
RUN_URL = re.compile(r"/connections/tests/([0-9a-f-]{36})/$")


@dataclass
class Pages:
    """The timings of one page read over and over, and how many failed or were slow."""

    timings: list[float] = field(default_factory=list)
    failures: int = 0
    samples: list[str] = field(default_factory=list)

    def figures(self) -> dict:
        ms = [t * 1000 for t in self.timings]
        slow = sum(t > SLOW for t in self.timings)
        return {
            "count": len(ms),
            "p50": percentile(ms, 0.5),
            "p95": percentile(ms, 0.95),
            "max": max(ms, default=0),
        } | {
            "failures": self.failures,
            "slow": slow,
            "samples": self.samples[:3],
        }


def twin(admin: LoadClient, index: int) -> LoadClient:
    """Another tab of the administrator's browser: a session of its own with the same cookies."""
    tab = LoadClient(admin.root, index, admin.person, admin.microsoft, seed=index)
    tab.session.cookies.update(admin.session.cookies)
    return tab


def read_pages(admin: LoadClient, path: str, clients: int, seconds: float, pause: float) -> Pages:
    """`clients` tabs read `path` for `seconds`, each waiting `pause` between its reads."""
    tabs = [twin(admin, 100 + i) for i in range(clients)]
    until = time.monotonic() + seconds

    def read(tab: LoadClient) -> None:
        while time.monotonic() < until:
            tab.request("page", "GET", path, (OK,))
            time.sleep(pause)

    threads = [threading.Thread(target=read, args=(tab,), daemon=True) for tab in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pages = Pages()
    for tab in tabs:
        pages.timings += tab.tally.timings["page"]
        pages.failures += tab.tally.errors["page"]
        pages.samples += tab.tally.samples
    return pages


def start_test_from_list(admin: LoadClient, pk: int) -> str | None:
    """The Connections list's TEST button (no script: the answer redirects to the TEST's page); the TEST's id."""
    data = {"next": "/connections/", "source": "list"}
    answered = admin.request("test_start", "POST", f"/connections/{pk}/test/", (FOUND,), data=data)
    found = RUN_URL.search(answered.headers.get("Location", "")) if answered is not None else None
    return found.group(1) if found else None


def follow_runs(admin: LoadClient, run_ids: list[str], every: float, give_up: float) -> dict:
    """Read each TEST's status once every `every` seconds, as its page refreshes itself, until all are done; the
    last status of each, and how many reads failed."""
    tab, last = twin(admin, 99), {}
    deadline = time.monotonic() + give_up
    while time.monotonic() < deadline and (not last or not all(run["done"] for run in last.values())):
        started = time.monotonic()
        for run_id in run_ids:
            if not last.get(run_id, {}).get("done"):
                polled = tab.request("status", "GET", f"/connections/tests/{run_id}/", (OK,), headers=JSON_ONLY)
                if polled is not None:
                    last[run_id] = polled.json() | {"seen_done_at": time.monotonic()}
        time.sleep(max(0.0, every - (time.monotonic() - started)))
    return {"runs": last, "failures": tab.tally.errors["status"]}


def wrk(url: str, cookie: str, *, threads: int, connections: int, seconds: int, log: Path) -> dict:
    """wrk against one page with the given cookies; requests per second, answers other than 200, latency."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(WRK_SCRIPT)]
    command += ["-H", f"Cookie: {cookie}"] if cookie else []
    finished = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60)
    log.write_text(" ".join(command[:-2] + ["Cookie: (the session)"] if cookie else command) + "\n" + finished.stdout)
    output = finished.stdout
    figures = dict(re.findall(r"^BENCH (\w+) (\S+)$", output, re.M))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(figures["requests"]),
        "not_200": int(figures["not_200"]),
        "socket_errors": int(figures["socket_errors"]),
        "p50": float(figures["p50_us"]) / 1000,
        "p99": float(figures["p99_us"]) / 1000,
    }


@dataclass
class Throughput:
    finished_at: list[float] = field(default_factory=list)  # when each TEST that said available was seen done
    failures: int = 0
    samples: list[str] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)


def tests_a_minute(admin: LoadClient, pks: list[int], seconds: float, warm_up: float) -> dict:
    """One tab per connection TESTs it again and again (the page's script: POST, then its status until done) for
    `seconds`; the TESTs that ended "Connection available" after `warm_up`, per minute."""
    tabs = [twin(admin, 200 + i) for i in range(len(pks))]
    started, wall = time.monotonic(), time.time()
    until = started + seconds
    done = Throughput()

    def loop(tab: LoadClient, pk: int) -> None:
        while time.monotonic() < until:
            errors = sum(tab.tally.errors.values())
            tab._follow("test", f"/connections/{pk}/test/", {}, pk)
            if sum(tab.tally.errors.values()) == errors:
                done.finished_at.append(time.monotonic())

    threads = [threading.Thread(target=loop, args=(tab, pk), daemon=True) for tab, pk in zip(tabs, pks, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for tab in tabs:
        done.failures += sum(tab.tally.errors.values())
        done.samples += tab.tally.samples
        done.durations += tab.tally.timings["test"]
    window = [t for t in done.finished_at if started + warm_up <= t <= until]
    return {
        "per_minute": len(window) / (seconds - warm_up) * 60,
        "from": wall + warm_up,  # the window, in Unix time, for the worker's side (bench/server_speed_runs.py)
        "until": wall + seconds,
        "counted": len(window),
        "total": len(done.finished_at),
        "failures": done.failures,
        "samples": done.samples[:3],
        "p50": percentile(done.durations, 0.5) * 1000,
        "p95": percentile(done.durations, 0.95) * 1000,
    }
