"""Why Microsoft Entra ID could not fetch this issuer's discovery document and keys (shown on the connection page):
Entra ID fetches them from the internet, over https, at SITE_URL."""

import concurrent.futures
import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host

from connections.dynamics import guard

RESOLVE_TIMEOUT = 2.0  # seconds: the page waits for this, a slow resolver must not hold it
_resolving = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="issuer-dns")


def issuer_problems(resolve: bool = True) -> list[str]:
    """What stops Entra ID from reaching SITE_URL; empty when nothing seen from here does. `resolve=False` for a
    page drawn often (the connection form): what the address itself says, without asking DNS."""
    site_url = settings.SITE_URL.strip()
    if not site_url:
        return ["SITE_URL is not set: this site has no public address for Microsoft Entra ID to fetch its keys from."]
    parts = urlsplit(site_url)
    problems = []
    if parts.scheme != "https":
        problems.append(
            f"SITE_URL must start with https://: Microsoft Entra ID fetches an issuer's keys over HTTPS only, "
            f"not {parts.scheme or 'a bare host'}."
        )
    if parts.query or parts.fragment:
        problems.append("SITE_URL must not have a query or a fragment: the issuer is a plain https address.")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return [*problems, "SITE_URL has no host name."]
    if not validate_host(host, settings.ALLOWED_HOSTS):
        problems.append(f"SITE_URL's host {host} is not in ALLOWED_HOSTS: this site would answer Entra ID 400.")
    return problems + host_problems(host, resolve)


def host_problems(host: str, resolve: bool = True) -> list[str]:
    """The host must be a public DNS name: not an address of a private network, loopback or link-local."""
    ip = guard.literal_ip(host)
    if ip is not None:
        reason = guard.refusal_reason(ip, allowed=())
        return [f"SITE_URL's host {host} is {reason}: Microsoft Entra ID cannot reach it."] if reason else []
    if host == "localhost" or host.endswith(".localhost"):
        return [f"SITE_URL's host {host} is this machine only: Microsoft Entra ID cannot reach it."]
    if "." not in host:
        return [
            f"SITE_URL's host {host} is a single-label name: only a fully qualified public name resolves on the "
            "internet."
        ]
    return resolution_problems(host) if resolve else []


def resolution_problems(host: str) -> list[str]:
    try:
        addresses = _resolving.submit(guard.resolver.resolve, host, 443).result(timeout=RESOLVE_TIMEOUT)
    except (OSError, UnicodeError, concurrent.futures.TimeoutError):
        return [f"SITE_URL's host {host} could not be resolved from this server: check that it is a public DNS name."]
    problems = []
    for ip in sorted({ipaddress.ip_address(sockaddr[0].split("%")[0]) for _, sockaddr in addresses}, key=str):
        reason = guard.refusal_reason(ip, allowed=())
        if reason:
            problems.append(f"SITE_URL's host {host} resolves to {ip}, {reason}: Microsoft Entra ID cannot reach it.")
    return problems
