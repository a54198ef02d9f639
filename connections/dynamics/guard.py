"""The outbound guard: an admin-typed URL may only reach public addresses (or the networks an operator allows).

Every connection the check opens goes through `GuardedAdapter`, whose connections resolve the host,
refuse forbidden addresses and connect to an address that passed, so a DNS answer that changes
between the check and the connect cannot steer the connection elsewhere.
"""

import ipaddress
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from connections.dynamics.errors import OutboundBlockedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Spellings inet_aton accepts besides dotted quads: 2130706433, 0x7f000001, 0177.0.0.1, 127.1.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)


@dataclass(frozen=True)
class Address:
    family: int
    sockaddr: tuple
    ip: IPAddress


class SystemResolver:
    """Resolves with the operating system (getaddrinfo). Tests swap in their own resolver."""

    def resolve(self, host: str, port: int) -> list[tuple[int, tuple]]:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [(family, sockaddr) for family, _, _, _, sockaddr in infos]


resolver = SystemResolver()
# Addresses checked by the preflight of the running TEST, reused when connecting.
_pinned: ContextVar[dict | None] = ContextVar("pinned_addresses", default=None)
# The non-public networks an operator allows the running TEST to reach (none unless `allowing` says so).
_allowed: ContextVar[tuple[IPNetwork, ...]] = ContextVar("allowed_networks", default=())


@contextmanager
def allowing(networks: tuple[IPNetwork, ...]) -> Iterator[None]:
    """Let the connections opened inside this block reach `networks` besides public addresses."""
    token = _allowed.set(tuple(networks))
    try:
        yield
    finally:
        _allowed.reset(token)


def literal_ip(host: str) -> IPAddress | None:
    """The address a host names by itself, in any spelling a resolver would accept."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        pass
    if _NUMERIC_HOST.match(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def refusal_reason(ip: IPAddress, allowed: tuple[IPNetwork, ...] | None = None) -> str | None:
    """Why an address is forbidden, or None when it may be reached (`allowed`: the block's `allowing`)."""
    allowed = _allowed.get() if allowed is None else allowed
    if any(ip in network for network in allowed):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return refusal_reason(embedded, allowed) or None
    for attribute, reason in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address (such as the cloud metadata service)"),
        ("is_multicast", "a multicast address"),
        ("is_unspecified", "an unspecified address"),
        ("is_private", "a private network address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(ip, attribute):
            return reason
    if not ip.is_global:
        return "a non-public address"
    return None


def check_address(host: str, ip: IPAddress) -> None:
    reason = refusal_reason(ip)
    if reason:
        raise OutboundBlockedError(host, str(ip), reason)


def _addresses(host: str, port: int) -> list[Address]:
    """What a host names or resolves to, unchecked; raise socket.gaierror when nothing."""
    ip = literal_ip(host)
    if ip is not None:
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        candidates = [(family, (str(ip), port))]
    else:
        candidates = resolver.resolve(host, port)
    addresses = [Address(f, sockaddr, ipaddress.ip_address(sockaddr[0].split("%")[0])) for f, sockaddr in candidates]
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    return addresses


def resolve(host: str, port: int) -> list[Address]:
    """Resolve and check a host; raise socket.gaierror or OutboundBlockedError."""
    addresses = _addresses(host, port)
    for address in addresses:
        check_address(host, address.ip)
    return addresses


@contextmanager
def allowing_platform_endpoint(host: str, port: int) -> Iterator[list[Address]]:
    """Let the connections inside this block reach exactly the addresses `host` has now (a /32 or /128 each),
    pinned for the block: for an endpoint the platform names (the managed identity's), never an admin-typed URL.

    Raises socket.gaierror when the host does not resolve."""
    addresses = _addresses(host, port)
    exact = tuple(ipaddress.ip_network(address.ip) for address in addresses)
    pins_token = _pinned.set({**(_pinned.get() or {}), (host, port): addresses})
    try:
        with allowing(_allowed.get() + exact):
            yield addresses
    finally:
        _pinned.reset(pins_token)


def preflight(host: str, port: int) -> list[Address]:
    """Resolve and check a host now, and pin the result for the connections of this TEST."""
    addresses = resolve(host, port)
    pins = dict(_pinned.get() or {})
    pins[(host, port)] = addresses
    _pinned.set(pins)
    return addresses


def clear_pins() -> None:
    _pinned.set(None)


def checked_addresses(host: str, port: int) -> list[Address]:
    """The addresses a connection to host may use: this TEST's preflight's, or resolved and checked now."""
    return (_pinned.get() or {}).get((host, port)) or resolve(host, port)


def open_socket(host: str, port: int, timeout, socket_options) -> socket.socket:
    """Connect to the first reachable checked address of host."""
    addresses = checked_addresses(host, port)
    error: OSError | None = None
    for address in addresses:
        sock = socket.socket(address.family, socket.SOCK_STREAM)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(timeout)
            sock.connect(address.sockaddr)
            return sock
        except OSError as err:
            error = err
            sock.close()
    raise error


class _GuardedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        try:
            sock = open_socket(self._dns_host, self.port, self.timeout, self.socket_options)
        except socket.gaierror as err:
            raise NameResolutionError(self.host, self, err) from err
        except TimeoutError as err:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from err
        except OSError as err:
            raise NewConnectionError(self, f"Failed to establish a new connection: {err}") from err
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose every connection passes the outbound guard."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }
