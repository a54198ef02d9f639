"""Shared fixtures: users, signed-in clients, saved connections, and the local Microsoft simulator.

No test reaches the internet: an autouse fixture swaps the outbound guard's resolver for one that
knows only the names a test maps (to the simulator on loopback) and fails every other lookup.
"""

import ipaddress
import logging
import uuid
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model

from connections.dynamics import entra, guard, http, managed_identity
from connections.models import Connection
from tests.helpers import ADMIN_PASSWORD, ENV_URL, TEST_SECRET, USER_PASSWORD, HostsResolver

# Fixtures of their own folders, for every test: the marketplace's (the Premium gate opened for database tests),
# the on-premises servers' and the app served over https (https_live_server).
pytest_plugins = [
    "tests.marketplace.fixtures",
    "tests.onprem.fixtures",
    "tests.https_live_server",
    "tests.proxy_fixtures",
]


@pytest.fixture(autouse=True)
def tasks_run_inline():
    """Huey's immediate mode: a queued TEST runs at once, in the thread that queued it (tests/test_worker.py runs
    the real worker)."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    yield HUEY


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """Serve static files without collectstatic's manifest (production uses whitenoise's)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def fresh_cache():
    """Rate-limit counters and TEST locks live in the cache, the connectors' shown state in the process cache:
    each test starts with none."""
    from django.core.cache import caches

    for alias in ("default", "process"):
        caches[alias].clear()
    yield
    for alias in ("default", "process"):
        caches[alias].clear()


@pytest.fixture(autouse=True)
def no_outbound_proxy(settings):
    """A proxy in the environment the tests run in must not carry their requests (tests set their own)."""
    settings.OUTBOUND_PROXIES = None


@pytest.fixture(autouse=True)
def resolver(monkeypatch) -> HostsResolver:
    fake = HostsResolver()
    monkeypatch.setattr(guard, "resolver", fake)
    entra.apps.clear()
    managed_identity.clients.clear()
    http.reset_session()
    yield fake
    entra.apps.clear()
    managed_identity.clients.clear()
    http.reset_session()


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("admin", "admin@example.com", ADMIN_PASSWORD)


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("maria", "maria@example.com", USER_PASSWORD)


@pytest.fixture
def clients(admin_user, user) -> dict:
    """A test client for each role: "anonymous", "user" (signed in) and "admin" (a signed-in superuser)."""
    from django.test import Client

    signed_in = {}
    for role, person in (("user", user), ("admin", admin_user)):
        signed_in[role] = Client()
        signed_in[role].force_login(person)
    signed_in["anonymous"] = Client()
    return signed_in


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def make_connection(db, admin_user):
    def make(**overrides) -> Connection:
        secret = overrides.pop("client_secret", TEST_SECRET)
        values = {
            "name": f"Contoso {uuid.uuid4().hex[:6]}",
            "client_id": str(uuid.uuid4()),
            "url": "https://contoso.crm.dynamics.com/",
            "azure_tenant": str(uuid.uuid4()),
            "owner": admin_user,
            **overrides,
        }
        connection = Connection(**values)
        if secret:
            connection.set_client_secret(secret)
        connection.save()
        return connection

    return make


@pytest.fixture
def all_logs():
    """Every log record emitted during the test, whatever its logger's level or propagation."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield records
    root.removeHandler(handler)
    root.setLevel(previous)


@pytest.fixture(scope="session")
def simulator():
    from tests.simulator import Simulator

    with Simulator() as sim:
        yield sim


@pytest.fixture
def microsoft(simulator, resolver, settings, monkeypatch):
    """The simulator, reset, standing in for Microsoft's real host names (as a hosts file would).

    Holds a tenant (contoso.onmicrosoft.com), an app with a client secret, a Dataverse environment at
    ENV_URL and the app's application user in it. Only the CA bundle and OUTBOUND_ALLOWED_NETWORKS
    change, as an operator would set them for a simulator on loopback.
    """
    from tests.simulator import SERVER_NAMES

    simulator.reset()
    for name in SERVER_NAMES:
        resolver.add(name, "127.0.0.1", simulator.port)
    settings.OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", simulator.ca_cert_path)
    monkeypatch.setenv("CURL_CA_BUNDLE", simulator.ca_cert_path)
    tenant = simulator.add_tenant(domains=("contoso.onmicrosoft.com",))
    app = simulator.add_app(tenant.tenant_id)
    secret = simulator.add_secret(app.client_id)
    env = simulator.add_environment(ENV_URL, tenant_id=tenant.tenant_id)
    app_user = simulator.add_application_user(env.url, app.client_id)
    return SimpleNamespace(sim=simulator, tenant=tenant, app=app, secret=secret, env=env, app_user=app_user)


@pytest.fixture
def fast_password_hashing(settings):
    """A cheap hasher: the default PBKDF2 costs ~0.7 s for every user a test creates."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The OpenID Connect issuer's fixtures (tests/federation_fixtures.py): every test starts with no signing key loaded in
# the process (the keyring keeps one for a minute, longer than a test's database lives); `site` and `pem_file`.
pytest_plugins.append("tests.federation_fixtures")
