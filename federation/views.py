"""The issuer's two public documents, at SITE_URL + /.well-known/…: no sign-in, no session, nothing secret."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from federation import keyring
from federation.issuer import discovery_document, issuer_url

# Verifiers may keep the documents this long; a new next key is published FEDERATION_KEY_PUBLISH_AHEAD before use.
MAX_AGE = 300
NOT_CONFIGURED = {
    "error": "issuer_not_configured",
    "message": "This site is not configured as an OpenID Connect issuer: SITE_URL is not set.",
}


@login_not_required
@csrf_exempt  # nothing to protect: GET and HEAD only, and any other method is answered 405, not 403
@require_safe
def openid_configuration(request: HttpRequest) -> JsonResponse:
    issuer = issuer_url()
    if not issuer:
        return JsonResponse(NOT_CONFIGURED, status=404)
    return _public(discovery_document(issuer))


@login_not_required
@csrf_exempt  # nothing to protect: GET and HEAD only, and any other method is answered 405, not 403
@require_safe
def jwks(request: HttpRequest) -> JsonResponse:
    if not issuer_url():
        return JsonResponse(NOT_CONFIGURED, status=404)
    return _public({"keys": keyring.published_jwks()})


def _public(document: dict) -> JsonResponse:
    response = JsonResponse(document)
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return response
