"""Turn the exceptions of requests, urllib3, ssl, socket and the outbound guard into CheckErrors an admin can act on.

Only these libraries' errors come here (see `LIBRARY_ERRORS`): anything else is a bug, which `check.run` reports
as an internal error, never as network trouble.
"""

import errno
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from connections.dynamics import proxy_errors
from connections.dynamics.errors import BudgetExceededError, CheckError, NameNotResolvedError, OutboundBlockedError
from connections.dynamics.tunnel import ProxyTunnelError

# What a TEST's talk with a server can raise besides CheckError: each is explained by `classify`.
LIBRARY_ERRORS = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,  # socket, ssl and timeouts included
    OutboundBlockedError,
    NameNotResolvedError,
    BudgetExceededError,
)
DOWN_HINT = "Check the URL, and that this server can reach it (firewall, proxy)."
SETTING = "OUTBOUND_ALLOWED_NETWORKS"


def blocked(error: OutboundBlockedError, on_premises: bool = False) -> CheckError:
    """The guard's refusal; for an on-premises server, with what an operator sets for its private network."""
    ip = ipaddress.ip_address(error.ip)
    if on_premises:
        hint = (
            "On-premises servers usually live on a private network, which TEST reaches only when an operator "
            f"allows it: add the server's network to the {SETTING} setting (comma-separated CIDRs, such as "
            f"{ip}/{ip.max_prefixlen} for this server alone, or its subnet) and restart the app. "
            "See the README (CRM2011+)."
        )
    else:
        hint = (
            "TEST only reaches public addresses. If this server really is on your network, an operator can "
            f"allow its network with the {SETTING} setting (comma-separated CIDRs)."
        )
    return CheckError(
        "outbound_blocked",
        f"The outbound guard refused {error.host}: it resolves to {error.ip}, {error.reason}.",
        hint,
        {"host": error.host, "address": error.ip, "setting": SETTING},
    )


def name_not_resolved(host: str, on_premises: bool = False) -> CheckError:
    where = (
        "an on-premises server's name must resolve on the machine this app runs on (internal DNS); its IP "
        "address in the URL works too"
        if on_premises
        else "for CRMOnline it is the Environment URL from the Power Platform admin center"
    )
    return CheckError(
        "dns_failed", f"The name {host} cannot be resolved (DNS).", f"Check the URL for typos; {where}.", {"host": host}
    )


def classify(error: Exception, url: str, deadline, on_premises: bool = False) -> CheckError:
    """A CheckError for a library error (LIBRARY_ERRORS) raised while talking to `url` under `deadline`."""
    host = urlsplit(url).hostname or url
    chain = list(_causes(error))
    refused_by_guard = next((e for e in chain if isinstance(e, OutboundBlockedError)), None)
    if isinstance(error, OutboundBlockedError) or (refused_by_guard and not isinstance(error, BudgetExceededError)):
        return blocked(refused_by_guard or error, on_premises)
    if isinstance(error, BudgetExceededError) or deadline.remaining() <= 0.1:
        return CheckError(
            "timeout",
            f"The TEST did not finish within its {deadline.total:.3g} s time budget: "
            "the server is down or unreachable.",
            DOWN_HINT,
            {"host": host},
        )
    tunnel = next((e for e in chain if isinstance(e, ProxyTunnelError)), None)
    if tunnel is not None:
        return proxy_errors.explain(tunnel, url, deadline)
    if any(
        isinstance(e, (NameNotResolvedError, urllib3.exceptions.NameResolutionError, socket.gaierror)) for e in chain
    ):
        return name_not_resolved(host, on_premises)
    if any(_is_refused(e) for e in chain):
        return _down(host, chain)
    return _timed_out(error, chain, host, deadline) or _tls_failed(error, chain, host) or _down(host, chain, error)


def _timed_out(error: Exception, chain: list, host: str, deadline) -> CheckError | None:
    # urllib3's NewConnectionError subclasses ConnectTimeoutError: it is not a timeout.
    connect = isinstance(error, requests.exceptions.ConnectTimeout) or any(
        isinstance(e, urllib3.exceptions.ConnectTimeoutError)
        and not isinstance(e, urllib3.exceptions.NewConnectionError)
        for e in chain
    )
    if connect:
        return CheckError(
            "connect_timeout",
            f"No answer from {host} within {deadline.connect:g} s: the server is down or unreachable.",
            "Check the URL; a firewall may be dropping the traffic from this server.",
            {"host": host},
        )
    if isinstance(error, (requests.exceptions.ReadTimeout, TimeoutError)):
        return CheckError(
            "read_timeout",
            f"{host} accepted the connection but did not answer within {deadline.read:g} s.",
            "The service may be overloaded or stuck; try again later, or check the URL.",
            {"host": host},
        )
    return None


def _tls_failed(error: Exception, chain: list, host: str) -> CheckError | None:
    tls = next((e for e in chain if isinstance(e, (ssl.SSLError, ssl.CertificateError))), None)
    if not isinstance(error, requests.exceptions.SSLError) and tls is None:
        return None
    return CheckError(
        "tls_failed",
        f"The TLS connection to {host} failed: {_tls_reason(tls or error)}.",
        "The certificate presented is not trusted for this name. A TLS-inspecting proxy needs its CA in "
        "REQUESTS_CA_BUNDLE; otherwise check the URL.",
        {"host": host},
    )


def _down(host: str, chain: list, error: Exception | None = None) -> CheckError:
    """Refused, dropped or never made; for an error that is no connection error, say which library error it was."""
    refused = any(_is_refused(e) for e in chain)
    dropped = any(isinstance(e, (ConnectionResetError, urllib3.exceptions.ProtocolError)) for e in chain)
    if error is not None and not isinstance(error, (requests.exceptions.ConnectionError, OSError)):
        return CheckError(
            "network_error", f"The request to {host} failed ({type(error).__name__}).", DOWN_HINT, {"host": host}
        )
    if refused:
        what = f"The connection to {host} was refused"
    elif dropped:
        what = f"{host} closed the connection without an answer"
    else:
        what = f"No connection to {host} could be made"
    return CheckError(
        "unreachable",
        f"{what}: the server is down or unreachable.",
        DOWN_HINT,
        {"host": host},
    )


def _is_refused(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in (
        errno.ECONNREFUSED,
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
    )


def _tls_reason(error: BaseException) -> str:
    reason = getattr(error, "verify_message", None) or getattr(error, "reason", None)
    text = str(reason or "handshake failed")
    return text.lower().replace("_", " ")[:200]


def _causes(error: BaseException):
    seen = set()
    stack = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        related = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        related.extend(getattr(current, "args", ())[:3])
        stack.extend(e for e in related if isinstance(e, BaseException))
