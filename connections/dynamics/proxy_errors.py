"""What TEST says when the operator's proxy fails it: which proxy (scheme://host:port, never its credentials), what
went wrong, and what to change."""

from urllib.parse import urlsplit

from connections.dynamics import proxy
from connections.dynamics.errors import CheckError
from connections.dynamics.tunnel import ProxyTunnelError

AUTH_STATUSES = (401, 407)  # tinyproxy answers a wrong password with 401: a CONNECT's 401 is the proxy's too
GATEWAY_STATUSES = (502, 503, 504)


def _no_proxy_setting(setting: str) -> str:
    return "OUTBOUND_NO_PROXY" if setting == "OUTBOUND_PROXY" else "NO_PROXY"


def explain(error: ProxyTunnelError, url: str, deadline) -> CheckError:
    """A CheckError for a proxy that failed before the tunnel to `url`'s host stood."""
    parts = urlsplit(url)
    host = parts.hostname or url
    chosen = proxy.for_url(url)
    setting = chosen.setting if chosen else "OUTBOUND_PROXY"
    details = {"host": host, "proxy": error.proxy, "setting": setting}
    if error.target:
        details["tunnel_to"] = error.target
    if error.kind == "status":
        details["http_status"] = str(error.status)
        return _answered(error, host, setting, bool(chosen and chosen.username), details)
    what, hint = _failed(error, setting, deadline)
    return CheckError(f"proxy_{'timeout' if error.kind == 'timeout' else 'unreachable'}", what, hint, details)


def _failed(error: ProxyTunnelError, setting: str, deadline) -> tuple[str, str]:
    where = f"Check {setting} (the proxy's host and port) and that the proxy runs and this server may reach it."
    if error.kind == "timeout":
        return (
            f"The proxy {error.proxy} did not answer within {deadline.connect:g} s (connecting to it, or its answer "
            "to the request for a tunnel).",
            f"{where} A firewall may be dropping the traffic to the proxy, or the proxy is overloaded.",
        )
    if error.kind == "unresolved":
        return f"The proxy's name in {error.proxy} cannot be resolved (DNS).", where
    if error.kind == "tls":
        return (
            f"The TLS connection to the proxy {error.proxy} failed.",
            f"The proxy's certificate must be trusted by this server (REQUESTS_CA_BUNDLE), or use its http:// port "
            f"in {setting}.",
        )
    if error.kind == "unsupported":
        return (
            f"TEST cannot reach a plain-http server through the https:// proxy {error.proxy}.",
            f"Give the proxy's http:// address in {setting}, or list this server in {_no_proxy_setting(setting)}.",
        )
    if error.kind == "dropped":
        return f"The proxy {error.proxy} closed the connection without answering the request for a tunnel.", where
    return f"The proxy {error.proxy} refused the connection or cannot be reached.", where


def _answered(error: ProxyTunnelError, host: str, setting: str, has_credentials: bool, details: dict) -> CheckError:
    status, who = error.status, f"The proxy {error.proxy}"
    if status in AUTH_STATUSES:
        hint = (
            f"Check the user and password in {setting} (http://user:password@host:port, special characters "
            "percent-encoded); the proxy's administrator can say whether the account may use it."
            if has_credentials
            else f"The proxy asks for credentials: add them to {setting} as http://user:password@host:port."
        )
        return CheckError(
            "proxy_auth_required",
            f"{who} refused the tunnel to {host}: proxy authentication required (HTTP {status}).",
            hint,
            details,
        )
    if status == 403:
        return CheckError(
            "proxy_refused_destination",
            f"{who} refused the tunnel to {host} (HTTP 403): it does not allow this destination.",
            f"Ask the proxy's administrator to allow {host} (for CRMOnline: login.microsoftonline.com and the "
            "environment's *.dynamics.com host; for an on-premises server its name and port). TEST asks for the "
            f"tunnel by the address it checked ({error.target or 'the server'}): the rule must allow the address, "
            f"or the server can be listed in {_no_proxy_setting(setting)}.",
            details,
        )
    if status in GATEWAY_STATUSES:
        return CheckError(
            "proxy_bad_gateway",
            f"{who} could not reach {host} (HTTP {status} from the proxy).",
            f"The proxy is up but cannot connect to {error.target or host}: check its firewall and routes to the "
            "server, or TEST again later.",
            details,
        )
    return CheckError(
        "proxy_error",
        f"{who} answered the request for a tunnel to {host} with HTTP {status}.",
        f"Check {setting}, and ask the proxy's administrator what the answer means.",
        details,
    )
