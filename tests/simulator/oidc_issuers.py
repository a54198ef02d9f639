"""Entra's side of workload identity federation's key fetch: an external issuer's discovery document and JWKS.

For a federated assertion Entra fetches ``GET {iss}/.well-known/openid-configuration`` (its ``issuer`` must be
``iss`` exactly, its ``jwks_uri`` https) and then ``GET {jwks_uri}``. Here that is the standard library's
http.client over TLS, trusting the simulator's CA plus any CA files given (``REQUESTS_CA_BUNDLE`` plays no
part), https only, no redirects followed, 5 s timeout. Where to connect is a hosts file of its own:
``route(host, port)`` sends a host name to ``127.0.0.1:port`` whatever the URL's port; an unrouted host cannot
be fetched. Every GET is recorded in :attr:`OidcIssuers.fetches`. Any failure is one
:class:`IssuerFetchError` (Entra answers AADSTS50166 for all of them).

Cache: ``cache_seconds`` (default 0: fetch for every assertion). When above 0, an issuer's discovery document
and keys are kept that long on the simulator clock, and a kid the cached keys do not list does not cause a
refetch inside that window: a key used before the cache was refreshed fails, the conservative model of Entra's
metadata cache (whose real lifetime Microsoft does not document).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

FETCH_TIMEOUT = 5.0
MAX_DOCUMENT_BYTES = 1_000_000
DISCOVERY_PATH = "/.well-known/openid-configuration"


class IssuerFetchError(Exception):
    """The discovery document or the JWKS of an issuer could not be had (the reason is for the test's eyes)."""


@dataclass
class IssuerFetch:
    """One GET to an issuer; ``status`` is None when no HTTP answer came (unrouted, refused, TLS, timeout)."""

    url: str
    status: int | None
    error: str = ""


class _RoutedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to a fixed address but speaks TLS (SNI, certificate check) and HTTP for the URL's host."""

    def __init__(self, host: str, port: int, address: tuple[str, int], context: ssl.SSLContext, timeout: float):
        super().__init__(host, port, timeout=timeout, context=context)
        self.address, self.tls_context = address, context

    def connect(self) -> None:
        # The route is an IP address: connect without getaddrinfo (which tests patch to steer names elsewhere).
        family = socket.AF_INET6 if ipaddress.ip_address(self.address[0]).version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.address)
            self.sock = self.tls_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class OidcIssuers:
    """Routes, trusted CAs, the cache and the fetch log; thread-safe (token requests run in parallel)."""

    def __init__(self, ca_file: str) -> None:
        self.ca_file = ca_file
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.routes: dict[str, tuple[str, int]] = {}
            self.extra_ca_files: list[str] = []
            self.cache_seconds = 0.0
            self.timeout = FETCH_TIMEOUT
            self.fetches: list[IssuerFetch] = []
            self._cache: dict[str, tuple[float, dict]] = {}  # issuer -> (fetched at, JWKS)

    def route(self, host: str, port: int, ip: str = "127.0.0.1") -> None:
        address = (str(ipaddress.ip_address(ip)), int(port))  # an IP literal: nothing is resolved
        with self._lock:
            self.routes[host.lower().rstrip(".")] = address

    def trust_ca_file(self, path: str) -> None:
        with self._lock:
            self.extra_ca_files.append(str(path))

    def keys(self, issuer: str, now: float) -> dict:
        """The issuer's JWKS (``{"keys": [...]}``), from the cache while it is fresh, else fetched."""
        with self._lock:
            cached = self._cache.get(issuer)
            if cached and self.cache_seconds > 0 and now < cached[0] + self.cache_seconds:
                return cached[1]
        discovery = self._get_json(issuer.rstrip("/") + DISCOVERY_PATH)
        if discovery.get("issuer") != issuer:
            raise IssuerFetchError(f"discovery names issuer {discovery.get('issuer')!r}, not {issuer!r}")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or urlsplit(jwks_uri).scheme != "https":
            raise IssuerFetchError(f"jwks_uri {jwks_uri!r} is not an https URL")
        jwks = self._get_json(jwks_uri)
        if not isinstance(jwks.get("keys"), list):
            raise IssuerFetchError("the JWKS has no list of keys")
        with self._lock:
            self._cache[issuer] = (now, jwks)
        return jwks

    def _get_json(self, url: str) -> dict:
        try:
            status, body = self._get(url)
        except (OSError, http.client.HTTPException, IssuerFetchError) as err:
            self._record(IssuerFetch(url, None, f"{type(err).__name__}: {err}"))
            raise IssuerFetchError(f"GET {url}: {err}") from err
        self._record(IssuerFetch(url, status))
        if status != 200:  # a redirect is a failure too: Entra does not follow it
            raise IssuerFetchError(f"GET {url} answered {status}")
        if len(body) > MAX_DOCUMENT_BYTES:
            raise IssuerFetchError(f"GET {url} is over {MAX_DOCUMENT_BYTES} bytes")
        try:
            document = json.loads(body)
        except ValueError as err:
            raise IssuerFetchError(f"GET {url} is not JSON") from err
        if not isinstance(document, dict):
            raise IssuerFetchError(f"GET {url} is not a JSON object")
        return document

    def _get(self, url: str) -> tuple[int, bytes]:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise IssuerFetchError("only https URLs are fetched")
        with self._lock:
            address = self.routes.get(parts.hostname.lower())
            ca_files, timeout = [self.ca_file, *self.extra_ca_files], self.timeout
        if address is None:
            raise IssuerFetchError(f"cannot resolve {parts.hostname} (no route_issuer for it)")
        context = ssl.create_default_context(cafile=ca_files[0])
        for path in ca_files[1:]:
            context.load_verify_locations(cafile=path)
        connection = _RoutedHTTPSConnection(parts.hostname, parts.port or 443, address, context, timeout)
        try:
            connection.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
            response = connection.getresponse()
            body = response.read(MAX_DOCUMENT_BYTES + 1)
        finally:
            connection.close()
        return response.status, body

    def _record(self, fetch: IssuerFetch) -> None:
        with self._lock:
            self.fetches.append(fetch)
