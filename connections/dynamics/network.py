"""Turn network exceptions (requests, urllib3, ssl, socket, the guard) into CheckErrors an admin can act on."""

import errno
import socket
import ssl
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from connections.dynamics.errors import BudgetExceededError, CheckError, OutboundBlockedError

GUARD_HINT = (
    "TEST only reaches public addresses. If this server really is on your network, an operator can "
    "allow its network with the OUTBOUND_ALLOWED_NETWORKS setting (comma-separated CIDRs)."
)
DOWN_HINT = "Check the URL, and that this server can reach it (firewall, proxy)."


def blocked(error: OutboundBlockedError) -> CheckError:
    return CheckError(
        "outbound_blocked",
        f"The outbound guard refused {error.host}: it resolves to {error.ip}, {error.reason}.",
        GUARD_HINT,
        {"host": error.host, "address": error.ip},
    )


def name_not_resolved(host: str) -> CheckError:
    return CheckError(
        "dns_failed",
        f"The name {host} cannot be resolved (DNS).",
        "Check the URL for typos; for CRMOnline it is the Environment URL from the Power Platform admin center.",
        {"host": host},
    )


def classify(error: Exception, url: str, deadline) -> CheckError:
    """A CheckError for any exception raised while talking to `url` under `deadline` (http.Deadline)."""
    host = urlsplit(url).hostname or url
    connect_timeout, read_timeout = deadline.connect, deadline.read
    if isinstance(error, OutboundBlockedError):
        return blocked(error)
    if isinstance(error, BudgetExceededError) or deadline.remaining() <= 0.1:
        return CheckError(
            "timeout",
            f"The TEST did not finish within its {deadline.total:g} s time budget: the server is down or unreachable.",
            DOWN_HINT,
            {"host": host},
        )
    chain = list(_causes(error))
    if any(isinstance(e, OutboundBlockedError) for e in chain):
        return blocked(next(e for e in chain if isinstance(e, OutboundBlockedError)))
    if any(isinstance(e, (urllib3.exceptions.NameResolutionError, socket.gaierror)) for e in chain):
        return name_not_resolved(host)
    if any(_is_refused(e) for e in chain):
        return _down(host, chain)
    if isinstance(error, requests.exceptions.ConnectTimeout) or any(
        # urllib3's NewConnectionError subclasses ConnectTimeoutError: it is not a timeout.
        isinstance(e, urllib3.exceptions.ConnectTimeoutError)
        and not isinstance(e, urllib3.exceptions.NewConnectionError)
        for e in chain
    ):
        return CheckError(
            "connect_timeout",
            f"No answer from {host} within {connect_timeout:g} s: the server is down or unreachable.",
            "Check the URL; a firewall may be dropping the traffic from this server.",
            {"host": host},
        )
    if isinstance(error, (requests.exceptions.ReadTimeout, TimeoutError)):
        return CheckError(
            "read_timeout",
            f"{host} accepted the connection but did not answer within {read_timeout:g} s.",
            "The service may be overloaded or stuck; try again later, or check the URL.",
            {"host": host},
        )
    tls = next((e for e in chain if isinstance(e, (ssl.SSLError, ssl.CertificateError))), None)
    if isinstance(error, requests.exceptions.SSLError) or tls is not None:
        return CheckError(
            "tls_failed",
            f"The TLS connection to {host} failed: {_tls_reason(tls or error)}.",
            "The certificate presented is not trusted for this name. A TLS-inspecting proxy needs its CA in "
            "REQUESTS_CA_BUNDLE; otherwise check the URL.",
            {"host": host},
        )
    if isinstance(error, requests.exceptions.ConnectionError):
        return _down(host, chain)
    return CheckError(
        "network_error",
        f"The request to {host} failed ({type(error).__name__}).",
        DOWN_HINT,
        {"host": host},
    )


def _down(host: str, chain: list) -> CheckError:
    refused = any(_is_refused(e) for e in chain)
    dropped = any(isinstance(e, (ConnectionResetError, urllib3.exceptions.ProtocolError)) for e in chain)
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
