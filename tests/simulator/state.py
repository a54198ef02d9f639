"""What the simulator knows: tenants, app registrations, credentials, environments.

All lookups go through :class:`Directory`, which is shared by the Entra and
Dataverse handlers and guarded by one lock (tests mutate it while requests are
served). Times are POSIX seconds on the simulator's clock (:meth:`Directory.now`).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .users import Delegated

# Authority host -> cloud. A tenant belongs to one cloud and is "not found" on the others.
AUTHORITY_CLOUDS = {
    "login.microsoftonline.com": "public",
    "login.microsoftonline.us": "usgov",
    "login.chinacloudapi.cn": "china",
    "login.partner.microsoftonline.cn": "china",
}
# Microsoft Graph host -> cloud (GCC High and DoD share the "usgov" authority; DoD has its own Graph host).
GRAPH_CLOUDS = {
    "graph.microsoft.com": "public",
    "graph.microsoft.us": "usgov",
    "dod-graph.microsoft.us": "usgov",
    "microsoftgraph.chinacloudapi.cn": "china",
}
SECRET_LIFETIME_YEARS = 2  # what the portal and addPassword give a new secret unless told otherwise

_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _guid() -> str:
    return str(uuid.uuid4())


def new_secret_value() -> str:
    """A 40-character value shaped like Entra's (``abc8Q~`` then 34 characters)."""
    hint = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(3))
    tail = "".join(secrets.choice(_SECRET_ALPHABET + "_.~-") for _ in range(34))
    return f"{hint}{secrets.choice('0123456789')}Q~{tail}"


def to_timestamp(value: dt.datetime | float | int | None) -> float | None:
    """Accept an aware/naive-UTC datetime or POSIX seconds."""
    if value is None or isinstance(value, (int, float)):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def environment_key(url_or_host: str) -> str:
    """Canonical environment host: lowercase, ``org.api.crm4...`` -> ``org.crm4...``."""
    host = urlsplit(url_or_host).hostname if "://" in url_or_host else url_or_host
    host = (host or "").lower().rstrip(".")
    org, _, rest = host.partition(".")
    if rest.startswith("api."):
        return f"{org}.{rest[4:]}"
    return host


def load_certificate(pem: str | bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)


@dataclass
class Tenant:
    tenant_id: str
    domains: tuple[str, ...]
    authority_host: str
    display_name: str

    @property
    def cloud(self) -> str:
        return AUTHORITY_CLOUDS[self.authority_host]


def years_later(timestamp: float, years: int) -> float:
    """The same calendar day ``years`` later (28 February for 29 February), in POSIX seconds."""
    start = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    try:
        return start.replace(year=start.year + years).timestamp()
    except ValueError:
        return start.replace(year=start.year + years, day=28).timestamp()


@dataclass
class Secret:
    value: str
    secret_id: str  # the portal's "Secret ID", Graph's keyId
    expires_at: float | None  # POSIX seconds, None = never
    created_at: float = 0.0  # Graph's startDateTime
    display_name: str = "Client secret"  # the portal's "Description"

    @property
    def hint(self) -> str:
        return self.value[:3]


@dataclass
class RegisteredCertificate:
    certificate: x509.Certificate
    key_id: str = field(default_factory=_guid)
    display_name: str = ""  # the portal shows the subject, "CN=..."

    @property
    def thumbprint_sha1_hex(self) -> str:
        return self.certificate.fingerprint(hashes.SHA1()).hex()

    @property
    def thumbprint_sha256_hex(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex()


@dataclass
class SubjectNameTrust:
    subject_cn: str
    issuer: x509.Certificate


@dataclass
class App:
    tenant_id: str
    client_id: str
    display_name: str
    object_id: str = field(default_factory=_guid)  # service principal oid, stable per app
    application_object_id: str = field(default_factory=_guid)  # the app registration's own id (Graph's "id")
    secrets: list[Secret] = field(default_factory=list)
    certificates: list[RegisteredCertificate] = field(default_factory=list)
    subject_trusts: list[SubjectNameTrust] = field(default_factory=list)
    redirect_uris: list[str] = field(default_factory=list)  # "Web" platform redirect URIs
    admin_consent_required: bool = False  # users cannot consent: code redemption fails with AADSTS65001
    enabled: bool = True  # the enterprise application's "Enabled for users to sign in"
    graph_roles: list[str] = field(default_factory=list)  # Microsoft Graph application permissions, admin-consented
    federated_credentials: list = field(default_factory=list)  # .federation.FederatedCredential, at most 20


@dataclass
class ApplicationUser:
    client_id: str
    user_id: str = field(default_factory=_guid)


@dataclass
class Environment:
    url: str  # https://org.crm.dynamics.com/ (lowercase, trailing slash)
    tenant_id: str
    organization_id: str
    business_unit_id: str
    version: str
    users: dict[str, ApplicationUser] = field(default_factory=dict)  # by client_id

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname


class Directory:
    """The registry plus the simulator clock; every method is thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.tenants: dict[str, Tenant] = {}
            self.apps: dict[tuple[str, str], App] = {}  # (tenant_id, client_id)
            self.environments: dict[str, Environment] = {}  # by environment_key
            self.delegated = Delegated()  # users, codes, refresh tokens, token policy
            self.clock = 0.0

    def now(self) -> float:
        """POSIX seconds as the simulator sees them (real time + ``clock``)."""
        return time.time() + self.clock

    # --- registration -------------------------------------------------------------

    def add_tenant(self, tenant_id, domains, authority_host, display_name) -> Tenant:
        host = authority_host.lower()
        if host not in AUTHORITY_CLOUDS:
            raise ValueError(f"unknown authority host {authority_host!r}; one of {sorted(AUTHORITY_CLOUDS)}")
        domains = tuple(d.lower() for d in domains)
        name = display_name or (domains[0].split(".")[0].capitalize() if domains else "Default Directory")
        tenant = Tenant(str(tenant_id or _guid()).lower(), domains, host, name)
        with self._lock:
            taken = [d for d in domains for t in self.tenants.values() if t.cloud == tenant.cloud and d in t.domains]
            if taken:
                raise ValueError(f"domain {taken[0]!r} already belongs to a tenant; pass other domains=")
            self.tenants[tenant.tenant_id] = tenant
        return tenant

    def add_app(self, tenant_id, client_id, display_name) -> App:
        tenant = self._tenant(tenant_id)
        app = App(tenant.tenant_id, str(client_id or _guid()).lower(), display_name)
        with self._lock:
            self.apps[(tenant.tenant_id, app.client_id)] = app
        return app

    def add_secret(self, client_id, value, secret_id, expires_at, display_name) -> Secret:
        now = self.now()
        ends = years_later(now, SECRET_LIFETIME_YEARS) if expires_at is None else to_timestamp(expires_at)
        secret = Secret(value or new_secret_value(), str(secret_id or _guid()), ends, now, display_name)
        with self._lock:
            self._app(client_id).secrets.append(secret)
        return secret

    def add_certificate(self, client_id, cert_pem, display_name) -> RegisteredCertificate:
        certificate = load_certificate(cert_pem)
        registered = RegisteredCertificate(
            certificate, display_name=display_name or certificate.subject.rfc4514_string()
        )
        with self._lock:
            self._app(client_id).certificates.append(registered)
        return registered

    def grant_graph(self, client_id, permissions) -> list[str]:
        with self._lock:
            roles = self._app(client_id).graph_roles
            roles.extend(p for p in permissions if p not in roles)
            return list(roles)

    def revoke_graph(self, client_id, permissions) -> list[str]:
        with self._lock:
            app = self._app(client_id)
            app.graph_roles = [role for role in app.graph_roles if role not in permissions]
            return list(app.graph_roles)

    def trust_subject_name(self, client_id, subject_cn, issuer_cert_pem) -> SubjectNameTrust:
        trust = SubjectNameTrust(subject_cn, load_certificate(issuer_cert_pem))
        with self._lock:
            self._app(client_id).subject_trusts.append(trust)
        return trust

    def add_environment(self, url, tenant_id, organization_id, version) -> Environment:
        tenant = self._tenant(tenant_id)
        parts = urlsplit(url if "://" in url else f"https://{url}")
        env = Environment(
            url=f"https://{parts.hostname.lower()}/",
            tenant_id=tenant.tenant_id,
            organization_id=str(organization_id or _guid()),
            business_unit_id=_guid(),
            version=version,
        )
        with self._lock:
            self.environments[environment_key(env.host)] = env
        return env

    def add_application_user(self, env_url, client_id) -> ApplicationUser:
        env = self.find_environment(env_url)
        if env is None:
            raise KeyError(f"no environment {env_url!r}")
        user = ApplicationUser(str(client_id).lower())
        with self._lock:
            env.users[user.client_id] = user
        return user

    # --- lookups ------------------------------------------------------------------

    def find_tenant(self, name: str, authority_host: str) -> Tenant | None:
        """The tenant known as ``name`` (GUID or domain) in ``authority_host``'s cloud."""
        name = name.lower()
        cloud = AUTHORITY_CLOUDS.get(authority_host.lower())
        with self._lock:
            for tenant in self.tenants.values():
                if tenant.cloud == cloud and (name == tenant.tenant_id or name in tenant.domains):
                    return tenant
        return None

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        with self._lock:
            return self.tenants.get(tenant_id)

    def find_app(self, tenant_id: str, client_id: str) -> App | None:
        with self._lock:
            return self.apps.get((tenant_id, client_id.lower()))

    def find_app_in_cloud(self, client_id: str, authority_host: str) -> App | None:
        """The app registered as ``client_id`` in any tenant of this host's cloud (for /common)."""
        cloud = AUTHORITY_CLOUDS.get(authority_host.lower())
        with self._lock:
            for (tenant_id, cid), app in self.apps.items():
                if cid == client_id.lower() and self.tenants[tenant_id].cloud == cloud:
                    return app
        return None

    def find_environment(self, url_or_host: str) -> Environment | None:
        with self._lock:
            return self.environments.get(environment_key(url_or_host))

    def find_application_user(self, env: Environment, client_id: str) -> ApplicationUser | None:
        with self._lock:
            return env.users.get(str(client_id).lower())

    def _tenant(self, tenant_id) -> Tenant:
        with self._lock:
            tenant = self.tenants.get(str(tenant_id).lower())
        if tenant is None:
            raise KeyError(f"no tenant {tenant_id!r}; add_tenant() first")
        return tenant

    def _app(self, client_id) -> App:
        with self._lock:
            matches = [a for (_, cid), a in self.apps.items() if cid == str(client_id).lower()]
        if not matches:
            raise KeyError(f"no app {client_id!r}; add_app() first")
        return matches[0]
