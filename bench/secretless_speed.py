"""What a credential with no secret costs a TEST, next to a client secret's, in one run on one machine.

    .venv/bin/python bench/secretless_speed.py [--runs 30]

A fresh SQLite file (bench/list_scale.py's environment), `migrate`, then against the local simulator:
- signing a federated assertion (federation.issuer.sign_assertion): with the process's signer loaded (every TEST after
  the first in a minute) and cold (the key read from the database, decrypted and parsed);
- a cold TEST (new msal app, new connections) and a warm one (msal's cached token), median of --runs each, for a client
  secret and for Federated (no secret) with this site's discovery document and JWKS served over TLS on loopback, and
  the requests each sends to Entra ID; the simulator's fetches of the issuer's keys are Entra ID's cost, not ours.
"""

import argparse
import dataclasses
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ISSUER_HOST = "issuer.gathr.test"


def serve_issuer(sim, documents: dict) -> ThreadingHTTPServer:
    import ssl
    import threading

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = json.dumps(documents[self.path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sim.issue_server_certificate(ISSUER_HOST).configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def median_ms(action, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def test_once(params, cold: bool):
    from connections.dynamics import check, entra, http
    from connections.limits import test_limits

    if cold:
        entra.apps.clear()
        http.reset_session()
    result = check.run(params, test_limits())
    assert result.ok, result.summary


def entra_requests(sim, action) -> int:
    sim.clear_requests()
    action()
    return sum(1 for record in sim.requests if record.host.startswith("login."))


def measure(runs: int) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from bench.test_speed import ENV_URL, setup
    from connections import secretless
    from connections.dynamics import check
    from connections.dynamics.federated import FederatedCredential
    from federation import issuer, keyring
    from tests.simulator import Simulator

    with Simulator() as sim:
        resolver, secret_params, tenant, app, _ = setup(sim)
        # As a form TEST: no Graph read of the secret's expiry (a federated credential has none to read).
        secret_params = dataclasses.replace(secret_params, read_expiry=False)
        documents: dict = {}
        server = serve_issuer(sim, documents)  # the handler reads the documents as they are when asked
        port = server.server_address[1]
        settings.SITE_URL = f"https://{ISSUER_HOST}:{port}"
        settings.ALLOWED_HOSTS = [ISSUER_HOST]
        sim.route_issuer(ISSUER_HOST, port)
        issuer_url = issuer.issuer_url()
        documents["/.well-known/openid-configuration"] = issuer.discovery_document(issuer_url)
        documents["/.well-known/jwks.json"] = {"keys": keyring.published_jwks()}
        subject, audience = secretless.new_subject(), "api://AzureADTokenExchange"
        sim.add_federated_credential(app.client_id, issuer=issuer_url, subject=subject, audiences=(audience,))
        federated = FederatedCredential(
            issuer_url, subject, audience, partial(issuer.sign_assertion, subject, audience)
        )
        federated_params = check.CheckParams(ENV_URL, "CRMOnline", tenant.tenant_id, app.client_id, "GLOBAL", federated)

        warm_sign = median_ms(lambda: issuer.sign_assertion(subject, audience), runs * 10)

        def cold_sign():
            keyring.forget_signer()
            issuer.sign_assertion(subject, audience)

        cold_sign_ms = median_ms(cold_sign, runs)
        figures = {}
        for name, params in (("client secret", secret_params), ("federated", federated_params)):
            test_once(params, cold=True)  # imports, first connections
            figures[name] = (
                median_ms(lambda p=params: test_once(p, cold=True), runs),
                median_ms(lambda p=params: test_once(p, cold=False), runs),
                entra_requests(sim, lambda p=params: test_once(p, cold=True)),
                entra_requests(sim, lambda p=params: test_once(p, cold=False)),
            )
        before = len(sim.issuer_fetches)
        test_once(federated_params, cold=True)
        fetches = len(sim.issuer_fetches) - before
    print(f"sign_assertion: {warm_sign * 1000:.0f} µs with the signer loaded, {cold_sign_ms:.2f} ms cold")
    for name, (cold_ms, warm_ms, cold_entra, warm_entra) in figures.items():
        print(
            f"{name:>13}: cold TEST {cold_ms:.1f} ms ({cold_entra} requests to Entra ID), "
            f"warm {warm_ms:.1f} ms ({warm_entra})"
        )
    base_cold, base_warm = figures["client secret"][:2]
    fed_cold, fed_warm = figures["federated"][:2]
    print(f"federated / client secret: cold {fed_cold / base_cold:.2f}x, warm {fed_warm / base_warm:.2f}x")
    print(f"Entra ID's fetches of this issuer's documents in a cold federated TEST: {fetches}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(args.runs)
        return
    from bench.list_scale import environment

    with tempfile.TemporaryDirectory() as folder:
        env = environment(f"sqlite:///{Path(folder) / 'secretless.sqlite3'}", Path(folder))
        env["OUTBOUND_ALLOWED_NETWORKS"] = str(ipaddress.ip_network("127.0.0.1/32"))
        subprocess.run([sys.executable, __file__, "--child", "--runs", str(args.runs)], cwd=ROOT, env=env, check=True)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathr_connector.settings")
    main()
