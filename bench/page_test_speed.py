"""TEST as an admin sees it: from pressing TEST on the New connection form to “Connection available” on the page,
next to one Dataverse round trip, with the same latency added to every upstream answer, in one run.

    .venv/bin/python bench/page_test_speed.py --write        # about 1 minute
    .venv/bin/python bench/page_test_speed.py --delay 0.3    # another latency; nothing written

The server is `make run`'s (gunicorn with the Procfile's flags and the TEST worker, bench/server_speed_stack.py) on a
fresh SQLite database; TEST reaches the local simulator of Entra ID and Dataverse, which waits `--delay` seconds
(default 0.15) before every answer. Headless Chromium (Playwright, /usr/bin/chromium) signs in, types a CRMOnline
connection into the New connection form and presses TEST `--runs` + 1 times: the first TEST is cold (the worker's
msal application and connection pool are new), the others warm. The time is the page's own: `performance.now()` when
the TEST button is clicked, and when the result area first says “Connection available”. The floor is a plain
`requests` session on an open connection sending WhoAmI with the token it got itself, once per run, beside them.
With --write the figures replace the “TEST on the page” section of bench/RESULTS.md. Not part of `make test`.
"""

import argparse
import datetime as dt
import ipaddress
import os
import platform
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.load import PASSWORD, simulated_microsoft  # noqa: E402
from bench.load_clients import LoadClient, Person  # noqa: E402
from bench.load_report import record  # noqa: E402
from bench.server_speed_stack import make_run  # noqa: E402
from connections.dynamics import guard, http  # noqa: E402
from tests.helpers import HostsResolver  # noqa: E402
from tests.simulator import SERVER_NAMES, Simulator  # noqa: E402

LOGS = BASE_DIR / "bench" / "results"
ADMIN = Person("page-admin", PASSWORD, True, "page-mistyped")
TARGET = 1.5  # a warm TEST on the page at most this many Dataverse round trips
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

# The page's own clock: the click on TEST, and the first time the result area says the connection is available.
WATCH = """() => {
  window.__test = {};
  const result = document.getElementById("test-result");
  result.innerHTML = "";
  document.querySelector("[data-test-button]").addEventListener(
    "click", () => { window.__test.pressed = performance.now(); }, { capture: true, once: true });
  new MutationObserver((changes, observer) => {
    if (result.textContent.includes("Connection available")) {
      window.__test.shown = performance.now();
      observer.disconnect();
    }
  }).observe(result, { childList: true, subtree: true, characterData: true });
}"""


def one_round_trip(microsoft, session: requests.Session, token: str) -> float:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "OData-Version": "4.0"}
    started = time.perf_counter()
    session.get(f"{microsoft.url}api/data/v9.2/WhoAmI", headers=headers, timeout=10).raise_for_status()
    return time.perf_counter() - started


def bare_token(microsoft, session: requests.Session) -> str:
    answer = session.post(
        f"https://login.microsoftonline.com/{microsoft.tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": microsoft.client_id,
            "client_secret": microsoft.secret,
            "scope": microsoft.url + ".default",
        },
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def press_test(page) -> float:
    page.evaluate(WATCH)
    page.get_by_role("button", name="TEST").click()
    page.wait_for_function("() => window.__test.shown !== undefined", timeout=30_000)
    timing = page.evaluate("() => window.__test")
    return (timing["shown"] - timing["pressed"]) / 1000


def measure(root: str, simulator: Simulator, runs: int, delay: float) -> dict:
    microsoft = simulated_microsoft(simulator)
    admin = LoadClient(root, 0, ADMIN, microsoft, seed=7)
    if not admin.sign_in():
        raise SystemExit(f"could not sign in: {admin.tally.samples}")
    admin.start_trial()
    simulator.set_delay(delay)  # every host, every answer
    floor, page_times = [], []
    # The floor's requests reach the simulator as the server's do: through the outbound guard, Microsoft's names
    # resolved to it, its CA trusted.
    hosts = HostsResolver()
    for name in SERVER_NAMES:
        hosts.add(name, "127.0.0.1", simulator.port)
    guard.resolver = hosts
    loopback = http.Limits(total=3600, connect=5, read=30, allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    with requests.Session() as plain, http.budget(loopback), sync_playwright() as playwright:
        os.environ["REQUESTS_CA_BUNDLE"] = simulator.ca_cert_path  # it overrides `verify`, as on the server
        plain.mount("https://", guard.GuardedAdapter())
        token = bare_token(microsoft, plain)
        one_round_trip(microsoft, plain, token)  # the connection is open from now on
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context()
        context.add_cookies([{"name": n, "value": v, "url": root} for n, v in admin.session.cookies.items()])
        page = context.new_page()
        page.goto(f"{root}/connections/new/")
        page.get_by_label("Connection Name").fill("Contoso Sales")
        page.get_by_label("Client ID").fill(microsoft.client_id)
        page.get_by_label("Client Secret").fill(microsoft.secret)
        page.get_by_label("URL").fill(microsoft.url)
        page.get_by_label("AzureTenant").fill(microsoft.tenant)
        simulator.clear_requests()
        cold = press_test(page)
        cold_entra = sum(1 for r in simulator.requests if r.host.startswith("login."))
        cold_requests = len(simulator.requests)
        for _ in range(runs):
            floor.append(one_round_trip(microsoft, plain, token))
            simulator.clear_requests()
            page_times.append(press_test(page))
        warm_entra = sum(1 for r in simulator.requests if r.host.startswith("login."))
        warm_requests = len(simulator.requests)
        browser.close()
    return {
        "delay": delay,
        "runs": runs,
        "cold": cold,
        "cold_entra": cold_entra,
        "cold_requests": cold_requests,
        "warm": statistics.median(page_times),
        "warm_p90": statistics.quantiles(page_times, n=10)[-1] if len(page_times) >= 10 else max(page_times),
        "warm_entra": warm_entra,
        "warm_requests": warm_requests,
        "floor": statistics.median(floor),
    }


def worker_side(database: Path, runs: int) -> dict:
    """Where the warm TESTs' time went on the server, from their TestRun rows: waiting for a worker, running."""
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT created_at, started_at, finished_at FROM connections_testrun ORDER BY created_at DESC LIMIT ?",
            (runs,),
        ).fetchall()
    moments = [[dt.datetime.fromisoformat(value) for value in row] for row in rows]
    return {
        "queued": statistics.median((started - created).total_seconds() for created, started, _ in moments),
        "running": statistics.median((finished - started).total_seconds() for _, started, finished in moments),
    }


def report(figures: dict) -> str:
    ms = {key: figures[key] * 1000 for key in ("cold", "warm", "warm_p90", "floor")}
    ratio = figures["warm"] / figures["floor"]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return "\n".join(
        [
            "<!-- page:test:begin -->",
            f"## TEST on the page ({time.strftime('%Y-%m-%d %H:%M')})",
            "",
            f"Machine: {machine}. `make run`'s server (gunicorn 2 × 8 threads and the TEST worker) on SQLite; "
            f"{figures['delay'] * 1000:.0f} ms added to every answer of Entra ID and Dataverse (the simulator); "
            "headless Chromium presses TEST on the New connection form; the page's own clock, from the click to "
            "“Connection available” in the result area. The floor: one WhoAmI on an open connection, bare requests.",
            "",
            "| TEST | On the page | One Dataverse round trip | Ratio | Requests (to Entra ID) |",
            "|---|---|---|---|---|",
            f"| Cold (the first: new msal app, new pool) | {ms['cold']:.0f} ms | {ms['floor']:.0f} ms | "
            f"{figures['cold'] / figures['floor']:.2f}× | {figures['cold_requests']} ({figures['cold_entra']}) |",
            f"| Warm (median of {figures['runs']}; p90 {ms['warm_p90']:.0f} ms) | {ms['warm']:.0f} ms | "
            f"{ms['floor']:.0f} ms | **{ratio:.2f}×** | {figures['warm_requests']} ({figures['warm_entra']}) |",
            "",
            f"Warm TEST / one round trip: **{ratio:.2f}×** (target at most {TARGET}×, met: "
            f"{'yes' if ratio <= TARGET else '**NO**'}); cold TEST: {figures['cold_entra']} requests to Entra ID "
            f"(target at most 2, met: {'yes' if figures['cold_entra'] <= 2 else '**NO**'}). WhoAmI and "
            "RetrieveVersion go out together; the page asks for the result 20 ms after each answer for its first "
            "0.3 s, then every 50 ms.",
            "",
            f"On the server (the warm TESTs' rows, medians): {figures['queued'] * 1000:.0f} ms from the POST's enqueue "
            f"to a worker taking it, {figures['running'] * 1000:.0f} ms from there to the result stored; the rest is "
            "the POST and the page's next status read.",
            "<!-- page:test:end -->",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.150)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    with Simulator() as simulator, make_run("page-test", simulator, ADMIN, LOGS) as stack:
        figures = measure(stack.root, simulator, args.runs, args.delay)
        figures |= worker_side(stack.folder / "bench.sqlite3", args.runs)
    text = report(figures)
    print(text)
    if args.write:
        record("test", text, kind="page")


if __name__ == "__main__":
    main()
