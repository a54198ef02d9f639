"""How fast `make run`'s server is, each figure a ratio measured side by side in one run.

    .venv/bin/python bench/server_speed.py --write      # about 4 minutes; --quick: about 2
    .venv/bin/python bench/server_speed.py --quick      # a short look, nothing written

One fresh setup (a temporary folder: SQLite database, SQLite queue, migrate, collectstatic, a superuser), served as
`make run` serves it: gunicorn with the Procfile's flags and the TEST worker (`manage.py run_huey`, 4 threads)
beside it, TEST reaching the local simulator of Entra ID and Dataverse (bench/load.py's setup). The administrator
signs in, starts the Dynamics CRM trial and saves 50 connections: 30 CRMOnline, 20 CRM2011+ with NTLM whose servers,
on 127.0.0.2 to 127.0.0.21, accept and never answer. Then, in this order:

1. Memory of every process, idle.
2. wrk on the sign-in page, the Connections list and the New connection form, the same settings for each.
3. The Connections list read by a few tabs at once, idle; then the same while the 20 NTLM connections are TESTed
   from the list's TEST buttons (their status read every second, as their pages do) and hang on their servers.
4. TESTs a minute of the one worker, with 150 ms added to every answer of the simulator; memory again.

The servers' output goes to bench/results/server-speed-*.log (ignored by git). With --write the figures replace the
Server speed section of bench/RESULTS.md. Not part of `make test`.
"""

import argparse
import json
import os
import signal
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.load import PASSWORD, manage, simulated_microsoft  # noqa: E402
from bench.load_clients import CREATED, FOUND, TEST_BUDGET, LoadClient, Person  # noqa: E402
from bench.server_speed_measure import follow_runs, read_pages, start_test_from_list, tests_a_minute, wrk  # noqa: E402
from bench.server_speed_report import record, section  # noqa: E402
from bench.server_speed_stack import SilentServers, make_run, memory  # noqa: E402
from tests.onprem.helpers import onprem_form_data  # noqa: E402
from tests.simulator import Simulator  # noqa: E402

LOGS = BASE_DIR / "bench" / "results"
ADMIN = Person("speed-admin", PASSWORD, True, "speed-mistyped")
SILENT, ONLINE = 20, 30  # 50 saved connections in all
DELAY = 0.150  # seconds added to every answer of the simulator, for TESTs a minute
RUNS = (BASE_DIR / "bench" / "server_speed_runs.py").read_text()


@dataclass(frozen=True)
class Mode:
    wrk_seconds: int
    wrk_rounds: int
    read_seconds: float  # each of idle and hanging: inside the 30 s TEST budget
    throughput_seconds: float
    warm_up: float
    throughput_clients: int


FULL = Mode(wrk_seconds=10, wrk_rounds=3, read_seconds=25, throughput_seconds=60, warm_up=5, throughput_clients=24)
QUICK = Mode(wrk_seconds=4, wrk_rounds=1, read_seconds=10, throughput_seconds=20, warm_up=3, throughput_clients=16)
READERS, PAUSE = 4, 0.1  # tabs reading the Connections list at once, and each one's pause between reads
WARM_UP_READS = 3  # seconds
WRK = {"threads": 4, "connections": 16}


def save_silent_connections(admin: LoadClient, urls: list[str]) -> list[int]:
    """CRM2011+ NTLM connections (tests/onprem's form data) whose servers never answer; their ids."""
    pks = []
    for i, url in enumerate(urls):
        data = onprem_form_data(name=f"Silent {i + 1:02d}", url=url)
        answered = admin.request("create", "POST", "/connections/new/", (FOUND,), data=data)
        found = CREATED.search(answered.headers.get("Location", "")) if answered is not None else None
        if not found:
            raise SystemExit(f"could not save the NTLM connection to {url}: {admin.tally.samples[-1:]}")
        pks.append(int(found.group(1)))
    return pks


def save_online_connections(admin: LoadClient, count: int) -> list[int]:
    """CRMOnline connections with a client secret, through the New connection form; their ids."""
    before = set(admin.tally.names)
    for _ in range(count):
        admin.create()
    if admin.tally.errors:
        raise SystemExit(f"could not save the CRMOnline connections: {admin.tally.samples}")
    return sorted(set(admin.tally.names) - before)


def requests_per_second(root: str, admin: LoadClient, mode: Mode) -> dict:
    """wrk on each page, the pages taking turns for `mode.wrk_rounds` rounds (the machine's other load then weighs
    on each page alike); each page's median round."""
    cookie = "; ".join(f"{name}={value}" for name, value in admin.session.cookies.items())
    pages = {"sign-in page": ("/accounts/login/", ""), "Connections list": ("/connections/", cookie)}
    pages["New connection form"] = ("/connections/new/", cookie)
    rounds = {label: [] for label in pages}
    for number in range(1, mode.wrk_rounds + 1):
        for label, (path, with_cookie) in pages.items():
            log = LOGS / f"server-speed-wrk-{path.strip('/').replace('/', '-')}-{number}.log"
            rounds[label].append(wrk(root + path, with_cookie, **WRK, seconds=mode.wrk_seconds, log=log))
            print(f"wrk round {number}, {label}: {rounds[label][-1]['rps']:.0f} requests/s", flush=True)
    return {label: median_round(runs) for label, runs in rounds.items()}


def median_round(runs: list[dict]) -> dict:
    """The median of each figure over the rounds; the counts of failures summed."""
    merged = {key: statistics.median(run[key] for run in runs) for key in ("rps", "p50", "p99")}
    totals = {key: sum(run[key] for run in runs) for key in ("requests", "not_200", "socket_errors")}
    return merged | totals | {"rounds": [run["rps"] for run in runs]}


def hanging_tests(admin: LoadClient, pks: list[int], mode: Mode) -> dict:
    """The Connections list idle, then while the silent connections' TESTs hang; how the TESTs ended."""
    read_pages(admin, "/connections/", READERS, WARM_UP_READS, PAUSE)  # after wrk: not counted
    idle = read_pages(admin, "/connections/", READERS, mode.read_seconds, PAUSE)
    print(f"list idle: p95 {idle.figures()['p95']:.0f} ms", flush=True)
    started = time.monotonic()
    run_ids = [run_id for run_id in (start_test_from_list(admin, pk) for pk in pks) if run_id]
    followed: dict = {}
    follow = lambda: followed.update(follow_runs(admin, run_ids, 1.0, TEST_BUDGET + 30))  # noqa: E731
    follower = threading.Thread(target=follow, daemon=True)  # daemon threads: Ctrl-C ends the bench at once
    follower.start()
    hanging = read_pages(admin, "/connections/", READERS, mode.read_seconds, PAUSE)
    print(f"list with TESTs hanging: p95 {hanging.figures()['p95']:.0f} ms", flush=True)
    follower.join()
    runs = followed.get("runs", {})
    ended = [(run["message"], run["seen_done_at"] - started) for run in runs.values() if run["done"]]
    ended += [(f"still {run['state']}", None) for run in runs.values() if not run["done"]]
    ended += [("no status read", None)] * (len(run_ids) - len(runs))
    return {
        "idle": idle.figures(),
        "hanging": hanging.figures(),
        "tests": len(pks),
        "started": len(run_ids),
        "ended": ended,
        "status_failures": followed.get("failures", 0),
        "reading": f"{READERS} tabs at once, {PAUSE * 1000:.0f} ms between a tab's reads, {mode.read_seconds:g} s "
        "idle, then as long from the moment the TESTs were started",
    }


def throughput(admin: LoadClient, simulator: Simulator, mode: Mode, env: dict) -> dict:
    pks = save_online_connections(admin, mode.throughput_clients)
    simulator.set_delay(DELAY)
    try:
        run = tests_a_minute(admin, pks, mode.throughput_seconds, mode.warm_up)
    finally:
        simulator.set_delay(0)
    print(f"TESTs a minute: {run['per_minute']:.0f}", flush=True)
    window = {"SPEED_PKS": json.dumps(pks), "SPEED_FROM": str(run["from"]), "SPEED_UNTIL": str(run["until"])}
    worker_side = manage(env, "shell", "--command", RUNS, **window)
    run["worker"] = json.loads(worker_side.stdout.strip().splitlines()[-1])
    return {"throughput": run, "delay": DELAY, "throughput_clients": len(pks)} | {
        "throughput_seconds": mode.throughput_seconds,
        "warm_up": mode.warm_up,
    }


def measure(root: str, master: int, simulator: Simulator, silent: SilentServers, mode: Mode, env: dict) -> dict:
    admin = LoadClient(root, 0, ADMIN, simulated_microsoft(simulator), seed=7)
    if not admin.sign_in():
        raise SystemExit(f"could not sign in: {admin.tally.samples}")
    admin.start_trial()
    silent_pks = save_silent_connections(admin, silent.urls)
    save_online_connections(admin, ONLINE)
    figures, load_before = {"memory_idle": memory(master)}, os.getloadavg()[0]
    figures["pages"] = requests_per_second(root, admin, mode)
    figures["wrk_settings"] = (
        f"{WRK['threads']} threads, {WRK['connections']} connections, {mode.wrk_seconds} s per page and round, "
        f"{mode.wrk_rounds} round{'s' if mode.wrk_rounds > 1 else ''}, the median round"
    )
    figures |= hanging_tests(admin, silent_pks, mode)
    figures |= throughput(admin, simulator, mode, env)
    figures["memory_after"] = memory(master)
    figures["load_average"] = (load_before, os.getloadavg()[0])
    return figures


def run(mode: Mode) -> dict:
    with (
        Simulator() as simulator,
        SilentServers(SILENT) as silent,
        make_run("server-speed", simulator, ADMIN, LOGS) as stack,
    ):
        return measure(stack.root, stack.server.pid, simulator, silent, mode, stack.env)


def stop_on_sigterm() -> None:
    """A SIGTERM unwinds like Ctrl-C: the servers are stopped and the temporary folder removed."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (about 2 minutes)")
    parser.add_argument("--write", action="store_true", help="write the figures to bench/RESULTS.md")
    args = parser.parse_args()
    stop_on_sigterm()
    started = time.monotonic()
    figures = run(QUICK if args.quick else FULL)
    (LOGS / "server-speed.json").write_text(json.dumps(figures, indent=2))
    text = section(figures, args.quick)
    print(text)
    print(f"({time.monotonic() - started:.0f} s)")
    if args.write:
        record(text)


if __name__ == "__main__":
    main()
