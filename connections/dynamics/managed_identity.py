"""Tokens from this machine's managed identity: msal's ManagedIdentityClient, through the outbound guard.

The endpoint is the platform's own (IMDS at 169.254.169.254, or the one its environment variables name, read as
msal reads them), never an admin-typed URL: its exact address is allowed only around the msal call, so a Dataverse
URL that resolves to it is still refused. A managed identity has no secret: nothing here expires or is stored.
"""

import base64
import json
import os
import re
import socket
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

import msal
import requests

from connections.dynamics import guard, http
from connections.dynamics.entra import AppCache, Token
from connections.dynamics.errors import CheckError

SYSTEM, CLIENT_ID, RESOURCE_ID = "system", "client_id", "resource_id"
KINDS = (SYSTEM, CLIENT_ID, RESOURCE_ID)
IMDS_ROOT = "http://169.254.169.254"
IMDS_PATH = "/metadata/identity/oauth2/token"
ARC_AGENT_ENDPOINT = "http://localhost:40342/metadata/identity/oauth2/token"
# A machine that is not on Azure drops the packets to 169.254.169.254: answer within seconds, not the read timeout.
CONNECT_TIMEOUT = 3.0
MAX_CLIENTS = 64
ENDPOINT_TEXT_LIMIT = 300
_NOT_FOUND = re.compile(r"identity not found|unable to load the proper managed identity|no managed identity", re.I)
_MULTIPLE = re.compile(r"multiple user assigned identities", re.I)


@dataclass(frozen=True)
class ManagedIdentity:
    """Which managed identity of this machine signs in: its system-assigned one, or a user-assigned one."""

    kind: str  # "system" | "client_id" | "resource_id"
    identifier: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS or (self.kind != SYSTEM) != bool(self.identifier):
            raise ValueError(f"a managed identity is 'system', or 'client_id'/'resource_id' with its value: {self}")

    def describe(self) -> str:
        if self.kind == SYSTEM:
            return "system-assigned"
        return f"user-assigned ({'client ID' if self.kind == CLIENT_ID else 'resource ID'} {self.identifier})"

    def fingerprint_material(self) -> str:
        """What entra.credential_fingerprint hashes: the identity's name (a managed identity has no secret)."""
        return f"managed-identity:{self.kind}:{self.identifier.lower()}"

    def for_msal(self) -> msal.SystemAssignedManagedIdentity | msal.UserAssignedManagedIdentity:
        if self.kind == SYSTEM:
            return msal.SystemAssignedManagedIdentity()
        return msal.UserAssignedManagedIdentity(**{self.kind: self.identifier})


@dataclass(frozen=True)
class Endpoint:
    """Where msal will ask for the token: the platform, the URL, and what named it."""

    platform: str  # "IMDS", "App Service", "Azure Arc", "Azure Machine Learning", "Service Fabric"
    url: str
    named_by: str = ""  # the environment variable, or "" for IMDS's own address

    def describe(self) -> str:
        if self.platform == "IMDS":
            root = self.url.removesuffix(IMDS_PATH)
            return f"IMDS at {root}" + (f" ({self.named_by})" if self.named_by else "")
        return f"{self.platform} ({self.named_by})"


def endpoint() -> Endpoint:
    """The endpoint msal 1.39 uses on this machine, read from the environment in msal's own order."""
    env = os.environ
    if "IDENTITY_ENDPOINT" in env and "IDENTITY_HEADER" in env:
        platform = "Service Fabric" if "IDENTITY_SERVER_THUMBPRINT" in env else "App Service"
        return Endpoint(platform, env["IDENTITY_ENDPOINT"], "IDENTITY_ENDPOINT")
    if "MSI_ENDPOINT" in env and "MSI_SECRET" in env:
        return Endpoint("Azure Machine Learning", env["MSI_ENDPOINT"], "MSI_ENDPOINT")
    if "IDENTITY_ENDPOINT" in env and "IMDS_ENDPOINT" in env:
        return Endpoint("Azure Arc", env["IDENTITY_ENDPOINT"], "IDENTITY_ENDPOINT")
    if _arc_agent_installed():
        return Endpoint("Azure Arc", ARC_AGENT_ENDPOINT, "the Connected Machine agent")
    named = "AZURE_POD_IDENTITY_AUTHORITY_HOST" in env
    root = env.get("AZURE_POD_IDENTITY_AUTHORITY_HOST", IMDS_ROOT).strip("/")
    return Endpoint("IMDS", root + IMDS_PATH, "AZURE_POD_IDENTITY_AUTHORITY_HOST" if named else "")


def _arc_agent_installed() -> bool:
    if sys.platform == "linux":
        return os.path.exists("/opt/azcmagent/bin/himds")
    return sys.platform == "win32" and os.path.exists(
        os.path.expandvars(r"${ProgramFiles}\AzureConnectedMachineAgent\himds.exe")
    )


def endpoint_description() -> str:
    """For the page: "IMDS at http://169.254.169.254" or "App Service (IDENTITY_ENDPOINT)"."""
    return endpoint().describe()


class _Clients(AppCache):
    """msal's managed-identity clients, and the one guarded session of their own they send through."""

    def __init__(self):
        super().__init__(MAX_CLIENTS)
        self._session: requests.Session | None = None

    def clear(self) -> None:
        super().clear()
        with self._lock:
            if self._session is not None:
                self._session.close()
            self._session = None

    def http_client(self) -> http.BoundedClient:
        """Guarded like the shared session but a session of its own: no admin-typed URL rides its connections, and
        never through a proxy (Azure's endpoint answers on this machine's own network only)."""
        with self._lock:
            if self._session is None:
                self._session = http.private_session(direct=True)
            return http.BoundedClient(own_session=self._session, max_connect=CONNECT_TIMEOUT)


clients = _Clients()


def acquire_token(identity: ManagedIdentity, resource_url: str) -> Token:
    """A token for `resource_url` from this machine's managed identity; CheckError with advice when none."""
    where = endpoint()
    host, port = _host_and_port(where)
    key = (identity, where.url)
    client = clients.get(key) or msal.ManagedIdentityClient(identity.for_msal(), http_client=clients.http_client())
    try:
        with guard.allowing_platform_endpoint(host, port):
            result = client.acquire_token_for_client(resource=resource_url.rstrip("/"))
    except requests.exceptions.ReadTimeout as error:  # before OSError: requests' errors are OSErrors
        clients.discard(key)
        raise _error(where, "accepted the connection but did not answer in time", "") from error
    except (socket.gaierror, requests.exceptions.ConnectionError) as error:  # unresolved, refused, no route, timed out
        clients.discard(key)
        if http.current_deadline().remaining() <= 0.1:
            raise  # the TEST's budget ran out, not the endpoint: the runner says so
        raise unavailable(where) from error
    except (msal.ManagedIdentityError, ValueError) as error:  # msal's own refusals; an answer that is not JSON
        clients.discard(key)
        raise _unreadable(where, error) from error
    except requests.exceptions.RequestException:  # the runner explains the rest, as for any request
        clients.discard(key)
        raise
    if "access_token" in result:
        clients.put(key, client)
        return Token(result["access_token"], from_cache=result.get("token_source") == "cache")
    clients.discard(key)  # msal replays an endpoint's 5xx for a while: a fixed machine must be TESTed afresh
    raise refused(result, identity, where)


def _host_and_port(where: Endpoint) -> tuple[str, int]:
    if where.platform == "Service Fabric":
        raise _error(
            where,
            "is Service Fabric's, which this connector does not support",
            "msal checks Service Fabric's certificate on a session of its own, outside the outbound guard: run "
            "the connector on a VM, App Service, AKS or an Arc-enabled server, or use a client secret or certificate.",
        )
    parts = urlsplit(where.url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    if parts.scheme not in ("http", "https") or not parts.hostname or not port:
        raise _error(where, f"is not a URL: {where.url[:100]!r}", f"Correct {where.named_by or 'the endpoint'}.")
    return parts.hostname, port


def unavailable(where: Endpoint) -> CheckError:
    return CheckError(
        "managed_identity_unavailable",
        f"Nothing answered at the managed identity endpoint ({where.describe()}): this server does not run on "
        "Azure, or its managed identity endpoint is unreachable.",
        "A managed identity works only when the connector runs on Azure (a VM or scale set, App Service or "
        "Functions, AKS, an Arc-enabled server). Elsewhere use a client secret or a certificate; on Azure, check "
        f"that no proxy, firewall or container network blocks {where.url.split('?')[0]}.",
        {"endpoint": where.describe()},
    )


def refused(result: dict, identity: ManagedIdentity, where: Endpoint) -> CheckError:
    """A CheckError for msal's `{"error": ...}` result (App Service's and Arc's answers folded in by msal)."""
    said = str(result.get("error_description") or result.get("error") or "no error description")
    said = said[:ENDPOINT_TEXT_LIMIT]
    failed = next((e for e in reversed(http.exchanges()) if e.status and e.status >= 300), None)
    status = f" (HTTP {failed.status})" if failed else ""
    details = {"endpoint": where.describe(), "endpoint_says": said}
    if failed:
        details["http_status"] = str(failed.status)
    if _NOT_FOUND.search(said) or _MULTIPLE.search(said):
        message = f"This machine has no {identity.describe()} managed identity{status}: the endpoint says {said!r}."
        return CheckError("managed_identity_not_found", message, not_found_hint(identity, said), details)
    hint = (
        "App Service's IDENTITY_HEADER changed since the connector started: restart the app."
        if failed and failed.status == 401 and where.platform == "App Service"
        else "Check the URL: the Dataverse environment's root URL, in the identity's tenant. The endpoint's own "
        "words are above."
    )
    return CheckError(
        "managed_identity_error",
        f"The managed identity endpoint refused the token request{status}: {said}",
        hint,
        details,
    )


def not_found_hint(identity: ManagedIdentity, said: str) -> str:
    if identity.kind == SYSTEM and _MULTIPLE.search(said):
        return (
            "This machine has several user-assigned identities and no system-assigned one: choose one by its "
            "client ID or resource ID, or turn on the system-assigned identity."
        )
    if identity.kind == SYSTEM:
        return (
            "Turn on the system-assigned identity of the machine the connector runs on: a VM or scale set: Security "
            "> Identity > System assigned > On; App Service or Functions: Settings > Identity > System assigned > On; "
            "AKS: use the node pool's (kubelet) identity, a user-assigned one chosen by client ID, or workload "
            "identity; an Arc-enabled server gets its identity when the Connected Machine agent connects it "
            "(azcmagent connect). Or choose a user-assigned identity assigned to this machine."
        )
    which = (
        "the client ID (the identity's Overview page)"
        if identity.kind == CLIENT_ID
        else "the resource ID (the identity's Properties, /subscriptions/.../userAssignedIdentities/<name>)"
    )
    return (
        "Assign the user-assigned identity to the machine the connector runs on (a VM: Security > Identity > User "
        "assigned > Add; App Service: Settings > Identity > User assigned > Add; AKS: the node pool's scale set), "
        f"and check {which}."
    )


def _unreadable(where: Endpoint, error: Exception) -> CheckError:
    failed = next((e for e in reversed(http.exchanges()) if e.status), None)
    if isinstance(error, msal.ManagedIdentityError):
        return _error(where, f"could not be used: {str(error)[:ENDPOINT_TEXT_LIMIT]}", "")
    status = f"HTTP {failed.status}" if failed else "an answer"
    return _error(where, f"answered with {status} that is not JSON", "")


def _error(where: Endpoint, what: str, hint: str) -> CheckError:
    return CheckError(
        "managed_identity_error",
        f"The managed identity endpoint ({where.describe()}) {what}.",
        hint or "Check that the connector runs on Azure with a managed identity, and TEST again.",
        {"endpoint": where.describe()},
    )


def token_app_id(access_token: str) -> str:
    """The token's application ID (`appid`, or `azp`), read without verifying it: for advice, never for trust."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return ""
    return str(claims.get("appid") or claims.get("azp") or "") if isinstance(claims, dict) else ""


def application_user_hint(app_id: str) -> str:
    """WhoAmI's 0x80072560 for a managed identity: the application user to add, by the identity's application ID."""
    return (
        "In the Power Platform admin center open Environments > your environment > Settings > Users + permissions > "
        f"Application users, choose New app user and add the application with application ID {app_id or '?'} "
        "(the managed identity's: search for the ID, an identity is an enterprise application, not an app "
        "registration), with its business unit and a security role."
    )
