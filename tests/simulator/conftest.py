"""Fixtures for the simulator's own tests (no Django needed).

``sim`` is a shared Simulator, reset for each test, with the real host names
resolved to it (``socket.getaddrinfo`` is patched for this test only) and
``REQUESTS_CA_BUNDLE`` pointing at its CA.
"""

from __future__ import annotations

import fnmatch
import socket
from types import SimpleNamespace

import pytest

from tests.simulator import SERVER_NAMES, Simulator
from tests.simulator.issuer_server import IssuerServer

ENV_URL = "https://contoso.crm.dynamics.com/"
ISSUER_HOST = "issuer.gathr.test"
FEDERATED_SUBJECT = "connection:42"


def is_simulated_host(host: str) -> bool:
    return any(fnmatch.fnmatch(host.lower(), pattern) for pattern in SERVER_NAMES)


def route_to(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve every simulated name (any port) to the simulator's address."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, str) and is_simulated_host(host):
            return real_getaddrinfo(simulator.host, simulator.port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", simulator.ca_cert_path)
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def shared_simulator():
    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def sim(shared_simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    shared_simulator.reset()
    route_to(shared_simulator, monkeypatch)
    return shared_simulator


@pytest.fixture
def contoso(sim: Simulator) -> SimpleNamespace:
    """A tenant with an app, its secret, an environment, and the app's application user."""
    tenant = sim.add_tenant(domains=("contoso.onmicrosoft.com",), display_name="Contoso")
    app = sim.add_app(tenant.tenant_id)
    secret = sim.add_secret(app.client_id)
    env = sim.add_environment(ENV_URL, tenant_id=tenant.tenant_id)
    user = sim.add_application_user(env.url, app.client_id)
    return SimpleNamespace(tenant=tenant, app=app, secret=secret, env=env, user=user)


REDIRECT_URI = "https://gathr.example.com/connections/oauth/callback"
USER_SCOPE = ENV_URL + "user_impersonation"


@pytest.fixture
def maria(sim: Simulator, contoso: SimpleNamespace) -> SimpleNamespace:
    """Contoso plus a user who is a Dataverse member, and the app's Web redirect URI."""
    user = sim.add_user(contoso.tenant.tenant_id, upn="maria@contoso.onmicrosoft.com", display_name="Maria Garcia")
    sim.add_redirect_uri(contoso.app.client_id, REDIRECT_URI)
    member = sim.add_dataverse_user(contoso.env.url, user.object_id)
    return SimpleNamespace(**vars(contoso), person=user, member=member)


@pytest.fixture
def issuer(sim: Simulator):
    """An external OIDC issuer at https://issuer.gathr.test:PORT publishing the key "key-1", routed for Entra."""
    server = IssuerServer(ISSUER_HOST, sim.issue_server_certificate(ISSUER_HOST))
    server.add_key("key-1")
    sim.route_issuer(ISSUER_HOST, server.port)
    yield server
    server.stop()


@pytest.fixture
def trusted(sim: Simulator, contoso: SimpleNamespace, issuer: IssuerServer) -> SimpleNamespace:
    """Contoso, whose app trusts the issuer's tokens about FEDERATED_SUBJECT."""
    credential = sim.add_federated_credential(contoso.app.client_id, issuer.url, FEDERATED_SUBJECT, name="gathr-42")
    return SimpleNamespace(**vars(contoso), credential=credential)
