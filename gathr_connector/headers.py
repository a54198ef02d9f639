"""Response headers Django does not send by itself: pages are never stored, unused browser features are off."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


def permissions_policy(features: dict[str, list[str]]) -> str:
    """The header's value: {"camera": [], "fullscreen": ["self"]} gives 'camera=(), fullscreen=(self)'."""
    return ", ".join(f"{feature}=({' '.join(allowed)})" for feature, allowed in features.items())


class PermissionsPolicyMiddleware:
    """Send settings.PERMISSIONS_POLICY on every response (Django has a setting for CSP, none for this).

    Place it before WhiteNoise, so that static files carry it too.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.value = permissions_policy(settings.PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.value)
        return response


class NoStoreMiddleware:
    """`Cache-Control: no-store, private` on every page, so that after sign-out the browser's back button (and
    any cache on the way) has no copy of a connection list, a connection or the audit trail to show.

    Place it after WhiteNoise: static files, which hold nothing private, stay cacheable. So does a response whose
    view made it public (the OpenID Connect issuer's documents, federation/views.py).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "public" not in response.get("Cache-Control", "").replace(" ", "").split(","):
            patch_cache_control(response, no_store=True, private=True)
        return response
