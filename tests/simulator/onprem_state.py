"""What the on-premises stand-ins know: Windows accounts, CRM servers and their organizations, AD FS clients.

Windows accounts live in an NTLM user file (``DOMAIN:USER:PASSWORD`` lines, the format pyspnego's NTLM
acceptor reads from the file named by ``NTLM_USER_FILE``); each account is written twice, once as
DOMAIN\\name and once as its UPN, as Active Directory accepts both.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# Web API versions by server generation (a 404 answers every other version).
WEB_API_BY_GENERATION = {
    "9.1": ("8.0", "8.1", "8.2", "9.0", "9.1"),  # Dynamics 365 Customer Engagement (on-premises) 9.1
    "8.2": ("8.0", "8.1", "8.2"),  # Dynamics 365 (on-premises) 8.2
    "8.1": ("8.0", "8.1"),  # CRM 2016 SP1
    "2011": (),  # CRM 2011 to 2015: the OData v2 organization data service only
}


def _guid() -> str:
    return str(uuid.uuid4())


@dataclass
class WindowsUser:
    domain: str  # NetBIOS name, like CONTOSO
    name: str  # sAMAccountName, like maria
    password: str
    upn: str  # like maria@contoso.local
    locked: bool = False

    @property
    def down_level(self) -> str:
        return f"{self.domain}\\{self.name}"

    def names(self) -> set[str]:
        return {self.down_level.lower(), self.upn.lower()}


@dataclass
class CrmUser:
    principal: str  # the Windows account or the UPN a token carries
    user_id: str = field(default_factory=_guid)
    enabled: bool = True


@dataclass
class Organization:
    """One organization (tenant database) of a CRM server, at ``{server}/{name}/``."""

    url: str
    name: str
    version: str
    web_api_versions: tuple[str, ...]
    organization_id: str = field(default_factory=_guid)
    business_unit_id: str = field(default_factory=_guid)
    users: dict[str, CrmUser] = field(default_factory=dict)  # by lower-case principal


@dataclass
class CrmServer:
    """A Dynamics CRM deployment on one host: Windows authentication, and AD FS tokens when it trusts one."""

    host: str
    organizations: dict[str, Organization] = field(default_factory=dict)  # by lower-case name
    relying_party: str = ""  # the identifier AD FS issues its tokens for; empty = no claims authentication
    plain: bool = False  # not Dynamics at all: a web server answering 404 to everything, without sign-in


@dataclass
class AdfsClient:
    client_id: str
    secret: str
    resources: set[str]  # relying parties it may get tokens for (Grant-AdfsApplicationPermission)
    upn: str = ""  # the UPN claim an issuance rule gives its tokens (what CRM maps to a user)


class OnPremDirectory:
    def __init__(self, users_file: Path) -> None:
        self.users_file = users_file
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.windows_users: list[WindowsUser] = []
            self.servers: dict[str, CrmServer] = {}
            self.adfs_clients: dict[str, AdfsClient] = {}
            self.relying_parties: set[str] = set()
            self._write_users()

    # --- Windows accounts -----------------------------------------------------------------

    def add_windows_user(self, domain: str, name: str, password: str, upn: str) -> WindowsUser:
        user = WindowsUser(domain, name, password, upn)
        with self._lock:
            self.windows_users.append(user)
            self._write_users()
        return user

    def find_windows_user(self, principal: str) -> WindowsUser | None:
        wanted = principal.lower()
        return next((user for user in self.windows_users if wanted in user.names()), None)

    def _write_users(self) -> None:
        lines = []
        for user in self.windows_users:
            lines += [f"{user.domain}:{user.name}:{user.password}", f":{user.upn}:{user.password}"]
        self.users_file.write_text("\n".join(lines) + "\n")

    # --- CRM servers --------------------------------------------------------------------------

    def add_organization(self, url: str, version: str, web_api_versions: tuple[str, ...]) -> Organization:
        parts = urlsplit(url)
        name = parts.path.strip("/").split("/")[0]
        server = self.servers.setdefault(parts.hostname, CrmServer(parts.hostname))
        org = Organization(url, name, version, web_api_versions)
        server.organizations[name.lower()] = org
        return org

    def add_plain_server(self, host: str) -> CrmServer:
        server = CrmServer(host, plain=True)
        self.servers[host] = server
        return server

    def find_server(self, host: str) -> CrmServer | None:
        return self.servers.get(host.lower())

    def add_crm_user(self, org: Organization, principal: str, *aliases: str) -> CrmUser:
        user = CrmUser(principal)
        for name in (principal, *aliases):
            org.users[name.lower()] = user
        return user

    # --- AD FS --------------------------------------------------------------------------------

    def add_relying_party(self, server: CrmServer, identifier: str) -> None:
        server.relying_party = identifier
        self.relying_parties.add(identifier)

    def add_adfs_client(self, resources: set[str], upn: str) -> AdfsClient:
        client = AdfsClient(_guid(), "adfs-" + uuid.uuid4().hex, set(resources), upn)
        self.adfs_clients[client.client_id] = client
        return client
