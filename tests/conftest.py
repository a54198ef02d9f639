"""Shared fixtures: users, signed-in clients, saved connections, and the local Microsoft simulator.

No test reaches the internet: an autouse fixture swaps the outbound guard's resolver for one that
knows only the names a test maps (to the simulator on loopback) and fails every other lookup.
"""

import ipaddress
import logging
import os
import socket
import uuid

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


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"
