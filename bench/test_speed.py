"""Benchmark TEST against the local simulator, next to the floor: the bare requests TEST must make.

Run: .venv/bin/python bench/test_speed.py [--runs N] [--write]   (make bench)
Writes the figures to bench/RESULTS.md with --write.
"""

import argparse
import ipaddress
import os
import platform
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathr_connector.settings")

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402

from bench.load_report import record  # noqa: E402
from connections.dynamics import check, entra, guard, http  # noqa: E402
from connections.limits import test_limits  # noqa: E402
from tests.helpers import HostsResolver  # noqa: E402
from tests.simulator import SERVER_NAMES, Simulator  # noqa: E402
from tests.test_connection_test import blackhole  # noqa: E402

ENV_URL = "https://contoso.crm.dynamics.com/"


def setup(sim: Simulator):
    resolver = HostsResolver()
    for name in SERVER_NAMES:
        resolver.add(name, "127.0.0.1", sim.port)
    guard.resolver = resolver
    settings.OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]
    os.environ["REQUESTS_CA_BUNDLE"] = sim.ca_cert_path
    tenant = sim.add_tenant(domains=("contoso.onmicrosoft.com",))
    app = sim.add_app(tenant.tenant_id)
    secret = sim.add_secret(app.client_id)
    env = sim.add_environment(ENV_URL, tenant_id=tenant.tenant_id)
    sim.add_application_user(env.url, app.client_id)
    params = check.CheckParams(ENV_URL, "CRMOnline", tenant.tenant_id, app.client_id, "GLOBAL", secret.value)
    return resolver, params, tenant, app, secret


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def cold_test(params):
    entra.apps.clear()
    http.reset_session()
    result = check.run(params, test_limits())
    assert result.ok, result.message


def warm_test(params):
    result = check.run(params, test_limits())
    assert result.ok, result.message


def floor_cold(sim, tenant, app, secret):
    """Discovery, token, WhoAmI, RetrieveVersion with a new plain requests session (our resolver kept)."""
    with requests.Session() as plain:
        plain.mount("https://", guard.GuardedAdapter())
        base = f"https://login.microsoftonline.com/{tenant.tenant_id}"
        plain.get(f"{base}/v2.0/.well-known/openid-configuration", timeout=5).raise_for_status()
        token = plain.post(
            f"{base}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app.client_id,
                "client_secret": secret.value,
                "scope": ENV_URL + ".default",
            },
            timeout=5,
        ).json()["access_token"]
        floor_warm(plain, token)
        return token


def floor_warm(session, token):
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "OData-Version": "4.0"}
    for function in ("WhoAmI", "RetrieveVersion()"):
        session.get(f"{ENV_URL}api/data/v9.2/{function}", headers=headers, timeout=5).raise_for_status()


def median_ms(samples) -> float:
    return statistics.median(samples) * 1000


def unavailable_time(params, resolver, target) -> tuple[float, str]:
    entra.apps.clear()
    http.reset_session()
    resolver.add("*.crm4.dynamics.com", *target) if target else resolver.entries.pop("*.crm4.dynamics.com", None)
    started = time.perf_counter()
    result = check.run(
        check.CheckParams(**{**vars(params), "url": "https://contoso.crm4.dynamics.com/"}), test_limits()
    )
    assert not result.ok
    return time.perf_counter() - started, result.message


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    lines = []
    # The floor's bare requests pass the guard as the TEST's do: the simulator's loopback address allowed.
    with Simulator() as sim, guard.allowing((ipaddress.ip_network("127.0.0.1/32"),)):
        resolver, params, tenant, app, secret = setup(sim)
        cold_test(params)  # warm up the interpreter and imports
        cold = [timed(lambda: cold_test(params)) for _ in range(args.runs)]
        sim.clear_requests()
        cold_test(params)
        cold_requests = len(sim.requests)
        cold_entra = sum(1 for r in sim.requests if r.host.startswith("login."))
        warm = [timed(lambda: warm_test(params)) for _ in range(args.runs)]
        sim.clear_requests()
        warm_test(params)
        warm_requests = len(sim.requests)
        warm_entra = sum(1 for r in sim.requests if r.host.startswith("login."))
        warm_connections = sim.connection_count()
        floor_c = [timed(lambda: floor_cold(sim, tenant, app, secret)) for _ in range(args.runs)]
        with requests.Session() as kept:
            kept.mount("https://", guard.GuardedAdapter())
            token = floor_cold(sim, tenant, app, secret)
            floor_warm(kept, token)
            floor_w = [timed(lambda: floor_warm(kept, token)) for _ in range(args.runs)]
        sim.add_environment("https://contoso.crm4.dynamics.com/", tenant_id=tenant.tenant_id)
        refused, refused_msg = unavailable_time(params, resolver, ("127.0.0.1", closed_port()))
        sim.set_silent(host="contoso.crm4.dynamics.com")
        resolver.add("*.crm4.dynamics.com", "127.0.0.1", sim.port)
        silent, silent_msg = unavailable_time(params, resolver, ("127.0.0.1", sim.port))
        sim.clear_knobs()
        with blackhole() as port:
            blackholed, blackholed_msg = unavailable_time(params, resolver, ("127.0.0.1", port))
        dns, dns_msg = unavailable_time(params, resolver, None)

    lines += [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.runs} runs each, medians; simulator on loopback with real TLS.",
        "",
        "| Case | TEST | Floor (bare requests) | Ratio | Requests (Entra ID) |",
        "|---|---|---|---|---|",
        f"| Cold (new msal app, new pool) | {median_ms(cold):.1f} ms | {median_ms(floor_c):.1f} ms | "
        f"{median_ms(cold) / median_ms(floor_c):.2f} | {cold_requests} ({cold_entra}) |",
        f"| Warm (cached token, open connection) | {median_ms(warm):.1f} ms | {median_ms(floor_w):.1f} ms | "
        f"{median_ms(warm) / median_ms(floor_w):.2f} | {warm_requests} ({warm_entra}); TCP connections used: "
        f"{warm_connections} |",
        "",
        f"Time to \u201cConnection unavailable\u201d (defaults: connect {settings.TEST_CONNECT_TIMEOUT:g} s, "
        f"read {settings.TEST_READ_TIMEOUT:g} s, budget {settings.TEST_TOTAL_TIMEOUT:g} s):",
        "",
        f"- refused port: {refused * 1000:.1f} ms ({refused_msg[:90]}…)",
        f"- silent server: {silent:.2f} s ({silent_msg[:90]}…)",
        f"- blackholed host (SYNs dropped): {blackholed:.2f} s ({blackholed_msg[:90]}…)",
        f"- DNS failure: {dns * 1000:.1f} ms ({dns_msg[:90]}…)",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:  # its own section of RESULTS.md; the other benchmarks' stay as they are
        stamp = time.strftime("%Y-%m-%d")
        record(
            "speed", f"<!-- check:speed:begin -->\n## TEST speed ({stamp})\n\n{text}\n<!-- check:speed:end -->", "check"
        )


if __name__ == "__main__":
    main()
