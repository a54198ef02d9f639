"""This site's AzureAD sign-in callback address: the default an admin registers, and the rule for a typed one."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.http.request import validate_host
from django.urls import Resolver404, resolve, reverse


def default_callback_url(request: HttpRequest) -> str:
    """This site's own callback address: SITE_URL behind a proxy, else the address the browser used."""
    path = reverse("connections:oauth_callback")
    if settings.SITE_URL:
        return settings.SITE_URL.rstrip("/") + path
    return request.build_absolute_uri(path)


def check_callback_url(value: str, default: str) -> None:
    """A Callback URL must be absolute http(s) and lead back to this app's callback view."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            "Enter an absolute address starting with https:// (http:// only for localhost).", code="not_absolute"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError("The Callback URL cannot hold a user name, a query or a fragment.", code="query")
    try:
        leads_back = resolve(parts.path or "/").url_name == "oauth_callback"
    except Resolver404:
        leads_back = False
    default_host = urlsplit(default).hostname or ""
    allowed_host = parts.hostname == default_host or validate_host(parts.hostname, settings.ALLOWED_HOSTS)
    if not leads_back or not allowed_host:
        raise ValidationError(
            "This address does not lead back to this app's sign-in callback, so Microsoft's answer would never "
            "arrive here. Use %(default)s (or the same path on another address of this site) and register it "
            "exactly as a Web redirect URI on the app registration.",
            code="callback_mismatch",
            params={"default": default or "/connections/oauth/callback/"},
        )
