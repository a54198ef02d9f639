"""Run inside a private network and mount namespace where 169.254.169.254 is on the loopback device and /etc/hosts
points Microsoft's real host names at 127.0.0.1: the simulator's IMDS listens on 169.254.169.254:80, its Entra ID
and Dataverse on 127.0.0.1:443. The client layer TESTs with the system-assigned identity at msal's default IMDS
URL (no environment override) with only 127.0.0.1/32 allowed, then checks that no admin-typed URL reaches IMDS.
Prints what happened; exits 0 when every expectation held."""

import ipaddress
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from connections.dynamics import check, http  # noqa: E402
from connections.dynamics.check import CheckParams  # noqa: E402
from connections.dynamics.managed_identity import ManagedIdentity, endpoint_description  # noqa: E402
from connections.dynamics.schemes import CRM_ONLINE  # noqa: E402
from tests.simulator import Simulator  # noqa: E402

PLATFORM = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT")
PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
ENV_URL = "https://contoso.crm.dynamics.com/"
# 169.254.169.254 in /etc/hosts as this name: an admin-typed URL aimed at IMDS.
AIMED_AT_IMDS = "https://metadata.crm.dynamics.com/"


def clean_environment(ca_path: str) -> None:
    for name in (*PLATFORM, "AZURE_POD_IDENTITY_AUTHORITY_HOST", *PROXIES, *(p.lower() for p in PROXIES)):
        os.environ.pop(name, None)
    os.environ["REQUESTS_CA_BUNDLE"] = ca_path
    os.environ["OUTBOUND_ALLOWED_NETWORKS"] = "127.0.0.1/32"


def limits() -> http.Limits:
    allowed = tuple(ipaddress.ip_network(n) for n in os.environ["OUTBOUND_ALLOWED_NETWORKS"].split(","))
    return http.Limits(total=15, connect=5, read=10, allowed_networks=allowed)


def expect(label: str, result: check.CheckResult, code: str) -> bool:
    print(f"{label}: {result.code or 'ok'}: {result.summary}")
    return (result.code or "ok") == code


def main() -> int:
    with Simulator(port=443) as sim:
        clean_environment(sim.ca_cert_path)
        tenant = sim.add_tenant(domains=("contoso.onmicrosoft.com",))
        env = sim.add_environment(ENV_URL, tenant_id=tenant.tenant_id)
        imds = sim.start_managed_identity_endpoint(kind="imds", host="169.254.169.254", port=80)
        identity = sim.add_managed_identity(tenant.tenant_id)
        imds.assign(identity)
        sim.add_application_user(env.url, identity.client_id)
        app = sim.add_app(tenant.tenant_id)
        secret = sim.add_secret(app.client_id)
        sim.add_application_user(env.url, app.client_id)
        print("endpoint:", endpoint_description())

        def run(url, credential, tenant_id="", client_id=""):
            return check.run(CheckParams(url, CRM_ONLINE, tenant_id, client_id, "GLOBAL", credential), limits())

        system = ManagedIdentity("system")
        good = [expect("managed identity", run(ENV_URL, system), "ok")]
        asked = imds.count()
        good.append(expect("managed identity, URL aimed at IMDS", run(AIMED_AT_IMDS, system), "outbound_blocked"))
        by_secret = (tenant.tenant_id, app.client_id)
        good.append(expect("client secret", run(ENV_URL, secret.value, *by_secret), "ok"))
        aimed = run(AIMED_AT_IMDS, secret.value, *by_secret)
        good.append(expect("client secret, URL aimed at IMDS", aimed, "outbound_blocked"))
        print(f"IMDS requests: {imds.count()} (after the first TEST: {asked})")
        good.append(asked == 1 and imds.count() == 1)
        print("simulator saw:", ", ".join(sorted({r.host for r in sim.requests})))
        return 0 if all(good) else 1


if __name__ == "__main__":
    sys.exit(main())
