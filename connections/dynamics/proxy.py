"""The operator's outbound proxy: which proxy a URL goes through (NO_PROXY aside), and its URL kept out of sight.

Settings build a `Proxies` once at start (`parse`, `no_proxy_entries`); `http.budget` makes it the running
TEST's, and the guarded adapter asks `current()` which proxy, if any, carries each request. How a request
travels through it (a CONNECT tunnel to the address the guard checked) is `tunnel.py`'s.
"""

import ipaddress
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from connections.dynamics.guard import IPNetwork, literal_ip

SCHEMES = ("http", "https")
_HOST_PATTERN = re.compile(r"^(\*\.|\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$", re.I)
# user:password@ in any URL of a text (a message, a traceback): what `scrub` hides.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s@:]*(:[^/\s@]*)?@", re.I)


@dataclass(frozen=True)
class ProxyURL:
    """One proxy: where it listens, its Basic credentials (if any), and the setting that named it."""

    scheme: str
    host: str
    port: int
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    setting: str = "OUTBOUND_PROXY"

    @property
    def display(self) -> str:
        """scheme://host:port, never the credentials: what pages, results and logs may show."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def url(self) -> str:
        """The URL with its credentials, for requests (which sends them as Proxy-Authorization)."""
        if not self.username:
            return self.display
        user, password = quote(self.username, safe=""), quote(self.password, safe="")
        return self.display.replace("://", f"://{user}:{password}@", 1)

    def __repr__(self) -> str:
        who = f", user={self.username!r}" if self.username else ""
        return f"ProxyURL({self.display!r}{who}, setting={self.setting!r})"


@dataclass(frozen=True)
class NoProxyEntry:
    """One NO_PROXY entry: every host (*), a network (CIDR or address), or a name and its subdomains."""

    everything: bool = False
    network: IPNetwork | None = None
    domain: str = ""
    port: int | None = None

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.everything:
            return True
        if self.network is not None:
            ip = literal_ip(host)
            return ip is not None and ip in self.network
        host = host.lower().rstrip(".")
        return host == self.domain or host.endswith("." + self.domain)


@dataclass(frozen=True)
class Proxies:
    """The proxy for https:// targets, the one for http:// targets, and the hosts that go direct."""

    https: ProxyURL | None = None
    http: ProxyURL | None = None
    no_proxy: tuple[NoProxyEntry, ...] = ()

    def for_url(self, url: str) -> ProxyURL | None:
        parts = urlsplit(url)
        chosen = self.https if parts.scheme == "https" else self.http if parts.scheme == "http" else None
        if chosen is None or not parts.hostname:
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if any(entry.matches(parts.hostname, port) for entry in self.no_proxy):
            return None
        return chosen

    def secrets(self) -> list[str]:
        """The proxies' passwords (for scrubbing a traceback)."""
        return [p.password for p in (self.https, self.http) if p is not None and p.password]


def parse(text: str, setting: str, default_scheme: str = "") -> ProxyURL:
    """A proxy URL, http(s)://[user:password@]host[:port]; ValueError naming the rule it breaks (never the password).

    `default_scheme`: the scheme of a URL written without one (requests reads HTTPS_PROXY=host:3128 as http)."""
    text = text.strip()
    if "://" not in text and default_scheme:
        text = f"{default_scheme}://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(f"{setting}: {scrub(text)} is not a URL with a valid port.") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(f"{setting} must start with http:// or https:// (not {scheme or 'no scheme'}).")
    if not parts.hostname:
        raise ValueError(f"{setting} names no host: write {scheme}://proxy.example.com:3128.")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{setting} must be scheme://[user:password@]host[:port], with no path or query.")
    return ProxyURL(
        scheme,
        parts.hostname,
        port or (443 if scheme == "https" else 80),
        unquote(parts.username or ""),
        unquote(parts.password or ""),
        setting,
    )


def no_proxy_entries(items: list[str], setting: str) -> tuple[NoProxyEntry, ...]:
    """NO_PROXY's entries: *, an address or CIDR, a host name or .domain, each with an optional :port."""
    return tuple(_no_proxy_entry(item.strip(), setting) for item in items if item.strip())


def _no_proxy_entry(item: str, setting: str) -> NoProxyEntry:
    if item == "*":
        return NoProxyEntry(everything=True)
    host, port = item, None
    head, _, tail = item.rpartition(":")
    if tail.isdigit() and (":" not in head or (head.startswith("[") and head.endswith("]"))):
        host, port = head, int(tail)
    try:
        return NoProxyEntry(network=ipaddress.ip_network(host.strip("[]"), strict=False), port=port)
    except ValueError:
        pass
    if not _HOST_PATTERN.match(host):
        raise ValueError(f"{setting}: {item!r} is not a host name, .domain, address or CIDR.")
    return NoProxyEntry(domain=host.lower().removeprefix("*.").lstrip(".").rstrip("."), port=port)


def scrub(text: str) -> str:
    """The text with the credentials of every URL in it replaced by ***."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}***@", text)


_current: ContextVar[Proxies | None] = ContextVar("outbound_proxies", default=None)


@contextmanager
def using(proxies: Proxies | None) -> Iterator[None]:
    """Send the requests of this block through `proxies` (None: straight to the targets)."""
    token = _current.set(proxies)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Proxies | None:
    return _current.get()


def for_url(url: str) -> ProxyURL | None:
    """The proxy that carries a request to `url` in the running block, or None when it goes direct."""
    proxies = _current.get()
    return proxies.for_url(url) if proxies else None
