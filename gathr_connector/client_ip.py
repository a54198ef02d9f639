"""The address a request comes from, as the sign-in lockout counts it.

Behind a reverse proxy (nginx in deploy/) every request reaches gunicorn from the proxy's address; the proxy
appends the address it saw to X-Forwarded-For. Only hops the operator trusts (TRUSTED_PROXIES) are skipped, from
the right: a client cannot choose its own address by sending an X-Forwarded-For of its own.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    if not _trusted(remote):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop):
            return hop if _is_address(hop) else remote
    return remote


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
