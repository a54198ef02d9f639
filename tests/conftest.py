"""Shared fixtures: users, signed-in clients, saved connections, and the local Microsoft simulator.

No test reaches the internet: an autouse fixture swaps the outbound guard's resolver for one that
knows only the names a test maps (to the simulator on loopback) and fails every other lookup.
"""

import ipaddress
import logging
import os
import socket
import uuid
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model

from connections.dynamics import entra, guard, http
from connections.models import Connection

TEST_SECRET = "Zq8Q~test-secret-value-7d1c9f0e2b4a6c8e0f1a3b5d"
ADMIN_PASSWORD = "correct horse battery staple 42"
USER_PASSWORD = "another long passphrase 1234"


class HostsResolver:
    """Like a hosts file: exact names or '*.suffix' patterns mapped to (ip, port); the rest fail."""

    def __init__(self):
        self.entries: dict[str, tuple[str, int | None]] = {}
        self.lookups: list[str] = []

    def add(self, name: str, ip: str, port: int | None = None) -> None:
        self.entries[name.lower()] = (ip, port)

    def resolve(self, host: str, port: int) -> list[tuple[int, tuple]]:
        self.lookups.append(host)
        host = host.lower()
        entry = self.entries.get(host) or next(
            (v for k, v in self.entries.items() if k.startswith("*.") and host.endswith(k[1:])), None
        )
        if entry is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        ip, mapped_port = entry
        family = socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET
        return [(family, (ip, mapped_port or port))]


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """Serve static files without collectstatic's manifest (production uses whitenoise's)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def fresh_cache():
    """Rate-limit counters and TEST locks live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def resolver(monkeypatch) -> HostsResolver:
    fake = HostsResolver()
    monkeypatch.setattr(guard, "resolver", fake)
    entra.apps.clear()
    http.reset_session()
    yield fake
    entra.apps.clear()
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


def form_data(**overrides) -> dict:
    """A valid POST for the connection form."""
    return {
        "name": "Contoso Sales",
        "client_id": "11111111-2222-3333-4444-555555555555",
        "client_secret": TEST_SECRET,
        "url": "https://contoso.crm.dynamics.com/",
        "crm_version": "CRMOnline",
        "azure_tenant": "contoso.onmicrosoft.com",
        "azure_environment": "GLOBAL",
        "credential_type": "secret",
        "creation_token": str(uuid.uuid4()),
        "action": "create",
        **overrides,
    }


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


ENV_URL = "https://contoso.crm.dynamics.com/"


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


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def field_error(response, field: str) -> str:
    """The error text a form page shows next to `field` ('' when it shows none)."""
    import html
    import re

    found = re.search(rf'id="id_{field}_error"[^>]*>(.*?)</div>', response.content.decode(), re.S)
    text = re.sub(r"<[^>]+>", " ", found.group(1)) if found else ""
    return " ".join(html.unescape(text).split())


@pytest.fixture
def fast_password_hashing(settings):
    """A cheap hasher: the default PBKDF2 costs ~0.7 s for every user a test creates."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- Connector Marketplace -------------------------------------------------------------------------------

DB_FIXTURES = {"db", "transactional_db", "live_server", "django_db_reset_sequences", "django_db_serialized_rollback"}


@pytest.fixture
def dynamics_crm(db):
    """The Premium Dynamics CRM connector of the catalogue (a transactional test's flush empties the catalogue)."""
    from marketplace.models import Connector

    connector, _ = Connector.objects.get_or_create(
        slug="dynamics-crm",
        defaults={
            "name": "Dynamics CRM",
            "description": "Microsoft's customer relationship management.",
            "tier": "premium",
            "connection_form": "connections:create",
            "position": 10,
        },
    )
    return connector


@pytest.fixture
def catalogue(db):
    """The data migrations' catalogue and group. Migrations made them, but a transactional test's flush empties
    the database, and pytest-playwright's browser parameter runs the browser tests amid the others."""
    import importlib

    from django.apps import apps

    importlib.import_module("marketplace.migrations.0002_catalogue").add_catalogue(apps, None)
    importlib.import_module("marketplace.migrations.0003_organization_administrators").add_group(apps, None)


@pytest.fixture(autouse=True)
def dynamics_crm_subscription(request):
    """Every test that uses the database has a Dynamics CRM subscription, unless marked no_entitlement."""
    uses_db = request.node.get_closest_marker("django_db") or DB_FIXTURES & set(request.fixturenames)
    if not uses_db or request.node.get_closest_marker("no_entitlement"):
        return None
    import datetime as dt

    from marketplace.models import Subscription

    connector = request.getfixturevalue("dynamics_crm")
    started = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return Subscription.objects.create(connector=connector, started_at=started, billing_day=1)


@pytest.fixture
def org_admin(db):
    """An organization administrator who is not a superuser: a member of the group the migration creates."""
    from django.contrib.auth.models import Group, Permission

    permission = Permission.objects.get(codename="manage_connectors", content_type__app_label="marketplace")
    # get_or_create: a transactional test's flush removes the migration's group.
    group, _ = Group.objects.get_or_create(name="Organization administrators")
    group.permissions.add(permission)
    user = get_user_model().objects.create_user("olga", "olga@example.com", ADMIN_PASSWORD)
    user.groups.add(group)
    return user


# --- On-premises Dynamics CRM (CRM2011+) ------------------------------------------------------------------

ONPREM_PASSWORD = "Pa55w.rd on-premises 42!"
ONPREM_HTTP_HOSTS = ("crm.contoso.local", "crm2016.contoso.local", "crm2011.contoso.local", "www.contoso.local")
ONPREM_HTTPS_HOSTS = ("crm.contoso.com", "adfs.contoso.com")


@pytest.fixture(scope="session")
def onprem_simulator():
    from tests.simulator.onprem import OnPremSimulator

    with OnPremSimulator() as sim:
        yield sim


@pytest.fixture
def onprem(onprem_simulator, resolver, settings, monkeypatch):
    """A company network on loopback: Dynamics CRM servers of three generations, a web server that is not
    Dynamics, and AD FS, with the Windows account CONTOSO\\maria (a CRM user of every organization).

    As an operator would for servers on a private network, OUTBOUND_ALLOWED_NETWORKS allows their address;
    the NTLM acceptor reads its accounts from NTLM_USER_FILE.
    """
    sim = onprem_simulator
    sim.reset()
    for name in ONPREM_HTTP_HOSTS:
        resolver.add(name, "127.0.0.1", sim.http_port)
    for name in ONPREM_HTTPS_HOSTS:
        resolver.add(name, "127.0.0.1", sim.https_port)
    settings.OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]
    monkeypatch.setenv("NTLM_USER_FILE", sim.users_file)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_cert_path)
    monkeypatch.setenv("CURL_CA_BUNDLE", sim.ca_cert_path)
    maria = sim.add_windows_user("CONTOSO", "maria", ONPREM_PASSWORD, upn="maria@contoso.local")
    servers = {
        "crm91": sim.add_server("http://crm.contoso.local/Contoso/", generation="9.1"),
        "crm2016": sim.add_server("http://crm2016.contoso.local/Contoso/", generation="8.1"),
        "crm2011": sim.add_server("http://crm2011.contoso.local/Contoso/", generation="2011"),
        "secure": sim.add_server("https://crm.contoso.com/Contoso/", generation="9.1"),
    }
    users = {key: sim.add_crm_user(org, maria) for key, org in servers.items()}
    sim.trust_adfs(servers["secure"], "https://crm.contoso.com/")
    adfs_user = sim.add_crm_user(servers["secure"], "svc-gathr@contoso.local")
    adfs_app = sim.add_adfs_client("https://crm.contoso.com/", upn="svc-gathr@contoso.local")
    sim.add_plain_server("www.contoso.local")
    return SimpleNamespace(
        sim=sim, maria=maria, password=ONPREM_PASSWORD, users=users, adfs_app=adfs_app, adfs_user=adfs_user, **servers
    )


def onprem_form_data(**overrides) -> dict:
    """A valid POST for a CRM2011+ connection with NTLM (the account of the `onprem` fixture)."""
    values = {
        "client_id": "",
        "client_secret": "",
        "azure_tenant": "",
        "url": "http://crm.contoso.local/Contoso/",
        "crm_version": "CRM2011+",
        "auth_scheme": "NTLM",
        "windows_user": "CONTOSO\\maria",
        "windows_password": ONPREM_PASSWORD,
        **overrides,
    }
    return form_data(**values)
