"""Requests through the operator's proxy: a CONNECT tunnel to the address the outbound guard checked.

urllib3's own proxy machinery (ProxyManager, its pools' `_prepare_proxy`, http.client's `_tunnel`) with three
changes. The CONNECT names the checked address (`CONNECT 20.190.151.7:443`), never the host name, so the proxy
cannot be steered to a private address by DNS; TLS inside the tunnel still sends and verifies the real name (SNI
and certificate), and requests carry the real Host header. Plain-http targets are tunnelled too, never forwarded
(`GET http://host/...`): the proxy would resolve the name itself, and NTLM needs one connection end to end. And the
failures of the proxy itself (refused, timed out, its own 407/403/502) become `ProxyTunnelError`, which
`classify` explains; the proxy, the operator's choice, is not checked against the guard's networks.
"""

import re
import socket
import ssl

from urllib3 import PoolManager, ProxyManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError, ProxyError
from urllib3.util.url import parse_url

from connections.dynamics import guard, proxy
from connections.dynamics.errors import NameNotResolvedError

_TUNNEL_STATUS = re.compile(r"Tunnel connection failed: (\d{3})")
DEFAULT_PORTS = {"http": 80, "https": 443}


class ProxyTunnelError(ProxyError):
    """The proxy failed before the tunnel stood: `kind` is refused, unresolved, timeout, dropped, tls, status
    (the proxy answered the CONNECT with `status`) or unsupported. `proxy` is scheme://host:port, no credentials."""

    def __init__(self, proxy_display: str, kind: str, error: Exception | None, status: int | None = None, target=""):
        super().__init__(f"Proxy {proxy_display}: {kind}{f' {status}' if status else ''}", error)
        self.proxy, self.kind, self.status, self.target = proxy_display, kind, status, target


def _display(url) -> str:
    return f"{url.scheme}://{url.host}:{url.port}" if url is not None else "the proxy"


class _ProxiedConnectionMixin:
    """A connection to the proxy, then through its tunnel: the guard checked the tunnel's end, not the proxy."""

    origin = ""  # the Host header of the requests inside the tunnel (the real name)

    def _new_conn(self) -> socket.socket:
        try:
            return super()._new_conn()
        except NameResolutionError as err:
            raise ProxyTunnelError(_display(self.proxy), "unresolved", err) from err
        except NewConnectionError as err:  # before ConnectTimeoutError: it subclasses it
            raise ProxyTunnelError(_display(self.proxy), "refused", err) from err
        except ConnectTimeoutError as err:
            raise ProxyTunnelError(_display(self.proxy), "timeout", err) from err

    def _tunnel(self) -> None:
        target = f"{self._tunnel_host}:{self._tunnel_port}"
        try:
            super()._tunnel()
        except TimeoutError as err:
            raise ProxyTunnelError(_display(self.proxy), "timeout", err, target=target) from err
        except OSError as err:
            status = _TUNNEL_STATUS.search(str(err))
            kind, code = ("status", int(status.group(1))) if status else ("dropped", None)
            raise ProxyTunnelError(_display(self.proxy), kind, err, code, target) from err

    def putrequest(self, method, url, skip_host=False, skip_accept_encoding=False) -> None:
        # http.client would name the tunnel's end (the checked address) in the Host header.
        super().putrequest(method, url, skip_host=True, skip_accept_encoding=skip_accept_encoding)
        if not skip_host:
            self.putheader("Host", self.origin)


class ProxiedHTTPConnection(_ProxiedConnectionMixin, HTTPConnection):
    pass


class ProxiedHTTPSConnection(_ProxiedConnectionMixin, HTTPSConnection):
    def _connect_tls_proxy(self, hostname, sock):
        try:
            return super()._connect_tls_proxy(hostname, sock)
        except (OSError, ssl.SSLError) as err:
            raise ProxyTunnelError(_display(self.proxy), "tls", err) from err


class _TunnelPoolMixin:
    """Pools of one target behind the proxy: each new connection is tunnelled to the target's checked address."""

    def _prepare_proxy(self, conn) -> None:
        host = self.host.strip("[]")
        try:
            address = guard.checked_addresses(host, self.port)[0]  # this TEST's preflight, or checked now
        except socket.gaierror as err:  # not an OSError upwards: urllib3 would blame the proxy
            raise NameNotResolvedError(host) from err
        conn.origin = f"[{host}]" if ":" in host else host
        if self.port != DEFAULT_PORTS[self.scheme]:
            conn.origin += f":{self.port}"
        if self.scheme == "https":
            conn.server_hostname = host  # SNI and the certificate's name: the real host, not the address
        elif self.proxy.scheme == "https":
            raise ProxyTunnelError(_display(self.proxy), "unsupported", None)
        conn.set_tunnel(str(address.ip), address.sockaddr[1], headers=self.proxy_headers, scheme=self.proxy.scheme)
        conn.connect()


class ProxiedHTTPConnectionPool(_TunnelPoolMixin, guard.GuardedHTTPConnectionPool):
    ConnectionCls = ProxiedHTTPConnection

    def _new_conn(self) -> HTTPConnection:
        # urllib3's plain-http pools connect to their own host; this one's connections go to the proxy.
        self.num_connections += 1
        timeout = self.timeout.connect_timeout
        return self.ConnectionCls(host=self.proxy.host, port=self.proxy.port, timeout=timeout, **self.conn_kw)


class ProxiedHTTPSConnectionPool(_TunnelPoolMixin, guard.GuardedHTTPSConnectionPool):
    ConnectionCls = ProxiedHTTPSConnection


class GuardedProxyManager(ProxyManager):
    """urllib3's ProxyManager with one pool per target for http:// too (tunnelled, never forwarded)."""

    def __init__(self, proxy_url: str, **kwargs):
        super().__init__(proxy_url, **kwargs)
        self.pool_classes_by_scheme = {"http": ProxiedHTTPConnectionPool, "https": ProxiedHTTPSConnectionPool}

    def connection_from_host(self, host, port=None, scheme="http", pool_kwargs=None):
        return PoolManager.connection_from_host(self, host, port, scheme, pool_kwargs=pool_kwargs)


class OutboundAdapter(guard.GuardedAdapter):
    """The guarded adapter, sending through the running block's proxy (`proxy.using`) unless `direct`.

    The proxy is this layer's decision, made from the operator's settings: requests' own reading of the
    environment (trust_env) is ignored, so the managed identity's endpoint is never proxied."""

    def __init__(self, *args, direct: bool = False, **kwargs):
        self._direct = direct
        super().__init__(*args, **kwargs)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        chosen = None if self._direct else proxy.for_url(request.url)
        routed = {"http": chosen.url(), "https": chosen.url()} if chosen else {}
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=routed)

    def request_url(self, request, proxies) -> str:
        return request.path_url  # tunnelled or direct, the request line is origin-form

    def proxy_manager_for(self, proxy_url: str, **proxy_kwargs) -> GuardedProxyManager:
        if proxy_url not in self.proxy_manager:
            # The credentials travel only as the CONNECT's Proxy-Authorization: urllib3 never holds the URL with them.
            parsed = parse_url(proxy_url)
            self.proxy_manager[proxy_url] = GuardedProxyManager(
                parsed._replace(auth=None).url,
                proxy_headers=self.proxy_headers(proxy_url),
                num_pools=self._pool_connections,
                maxsize=self._pool_maxsize,
                block=self._pool_block,
                **proxy_kwargs,
            )
        return self.proxy_manager[proxy_url]
