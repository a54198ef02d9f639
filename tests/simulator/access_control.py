"""Two ways a Power Platform environment refuses a valid token before Dataverse reads anything.

- **App access control** (Power Platform admin center > Security > Identity and access > App access
  control; Microsoft's "Control which apps are allowed in your environment"): Dataverse authentication
  checks the client app ID of a *user* token (delegated, ``scp``) against the environment's allowed and
  blocked apps. The documented text a refused user sees is "Access to the Dataverse API is restricted for
  this application ID." The page gives no status or code: the simulator answers 403 with ``0x80095ffc``
  (the code our reference notes give; an assumption, not found in Microsoft's published error list).
  As documented, it "isn't applied to" service-to-service calls of application users: app-only tokens pass
  (block those by removing the application user).
- **IP firewall** ("IP firewall in Power Platform environments"): after authentication, a request whose
  address is outside the allowed CIDR ranges is refused with "The request you are trying to make is
  rejected as access to your IP is blocked. Contact your administrator for more information." Microsoft's
  page gives no status or code; the simulator answers 403 with ``0x80095ffe``, the code a public
  Power Platform lab transcript shows with that message (an assumption). Its documented defaults: "Allow
  access for all application users" on (app-only tokens pass), audit-only mode on in the portal (nothing
  refused; the simulator's knob defaults to enforcing, as a test wants). With reverse proxies configured,
  the client address is read from the ``Forwarded`` header (``for=``) of requests from those proxies.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from dataclasses import dataclass, field

from .messages import Request

APP_BLOCKED = ("0x80095ffc", "Access to the Dataverse API is restricted for this application ID.")
IP_BLOCKED = (
    "0x80095ffe",
    "The request you are trying to make is rejected as access to your IP is blocked. Contact your administrator "
    "for more information.",
)
_FORWARDED_FOR = re.compile(r'for="?\[?(?P<address>[0-9A-Fa-f.:]+)\]?(?::\d+)?"?', re.IGNORECASE)


@dataclass
class Firewall:
    allowed: list  # of ip_network
    allow_application_users: bool = True
    audit_only: bool = False
    reverse_proxies: list = field(default_factory=list)


@dataclass
class EnvironmentAccess:
    blocked_apps: set[str] = field(default_factory=set)
    firewall: Firewall | None = None


def client_address(request: Request, firewall: Firewall) -> str:
    """The caller's address: the TCP peer, or the ``Forwarded`` header's ``for=`` when the peer is a proxy."""
    peer = request.client_ip
    if peer and any(ipaddress.ip_address(peer) in proxy for proxy in firewall.reverse_proxies):
        match = _FORWARDED_FOR.search(request.header("Forwarded") or "")
        if match:
            return match["address"]
    return peer


class AccessControl:
    """Blocked apps and IP firewalls of every environment; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._envs: dict[str, EnvironmentAccess] = {}

    def _env(self, env_key: str) -> EnvironmentAccess:
        return self._envs.setdefault(env_key, EnvironmentAccess())

    def block_app(self, env_key: str, client_id: str, blocked: bool = True) -> None:
        with self._lock:
            apps = self._env(env_key).blocked_apps
            apps.add(client_id.lower()) if blocked else apps.discard(client_id.lower())

    def set_firewall(self, env_key: str, firewall: Firewall | None) -> None:
        with self._lock:
            self._env(env_key).firewall = firewall

    def refusal(self, env_key: str, request: Request, claims: dict) -> tuple[str, str] | None:
        """The (code, message) of the 403 to answer, or None to let the request through."""
        with self._lock:
            access = self._env(env_key)
            firewall, blocked = access.firewall, set(access.blocked_apps)
        delegated = "scp" in claims
        if firewall is not None and not firewall.audit_only and (delegated or not firewall.allow_application_users):
            address = ipaddress.ip_address(client_address(request, firewall) or "0.0.0.0")
            if not any(address in network for network in firewall.allowed):
                return IP_BLOCKED
        client_id = str(claims.get("appid") or claims.get("azp") or "").lower()
        if delegated and client_id in blocked:
            return APP_BLOCKED
        return None
