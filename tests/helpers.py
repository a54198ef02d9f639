"""Helpers for the tests: known secrets and passwords, a hosts-file resolver, the connection form's POST, and readers
of what a page shows."""

import html
import ipaddress
import os
import re
import socket
import uuid

TEST_SECRET = "Zq8Q~test-secret-value-7d1c9f0e2b4a6c8e0f1a3b5d"
ADMIN_PASSWORD = "correct horse battery staple 42"
USER_PASSWORD = "another long passphrase 1234"
ENV_URL = "https://contoso.crm.dynamics.com/"


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


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def field_error(response, field: str) -> str:
    """The error text a form page shows next to `field` ('' when it shows none)."""
    found = re.search(rf'id="id_{field}_error"[^>]*>(.*?)</div>', response.content.decode(), re.S)
    text = re.sub(r"<[^>]+>", " ", found.group(1)) if found else ""
    return " ".join(html.unescape(text).split())
