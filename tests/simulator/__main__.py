"""``python -m tests.simulator --port 8443 --scenario demo`` (run from the project root)."""

from __future__ import annotations

import argparse
import logging
import threading

from .simulator import Simulator

DEMO_ENVIRONMENT = "https://contoso.crm.dynamics.com/"


def load_demo(sim: Simulator, redirect_uris: list[str] = ()) -> dict[str, str]:
    """A tenant, an app with a secret, an environment, its application user, and a member user."""
    tenant = sim.add_tenant(domains=("contoso.onmicrosoft.com",), display_name="Contoso")
    app = sim.add_app(tenant.tenant_id)
    secret = sim.add_secret(app.client_id)
    env = sim.add_environment(DEMO_ENVIRONMENT, tenant_id=tenant.tenant_id)
    sim.add_application_user(env.url, app.client_id)
    user = sim.add_user(tenant.tenant_id)
    sim.add_dataverse_user(env.url, user.object_id)
    for uri in redirect_uris:
        sim.add_redirect_uri(app.client_id, uri)
    return {
        "tenant id": tenant.tenant_id,
        "client id": app.client_id,
        "secret value": secret.value,
        "environment URL": env.url,
        "user": user.upn,
        "redirect URIs": " ".join(redirect_uris) or "(none; pass --redirect-uri)",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--scenario", choices=["empty", "demo"], default="demo")
    parser.add_argument(
        "--redirect-uri", action="append", default=[], help="register a Web redirect URI for the demo app (repeatable)"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)

    sim = Simulator(port=args.port, host=args.host)
    details = {"listening on": f"https://{sim.host}:{sim.port}", "CA certificate": sim.ca_cert_path}
    if args.scenario == "demo":
        details.update(load_demo(sim, args.redirect_uri))
    for label, value in details.items():
        print(f"{label + ':':18} {value}")
    print("Map the authority and environment host names to the address above. Ctrl-C stops.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
