"""A database outage answers 503 with what to do, instead of a bare 500 page that seems to lose the typed form."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from gathr_connector.negotiation import wants_json

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 10
MESSAGE = (
    "The database is unavailable right now; nothing was saved. Go back — your browser still has what you "
    "typed — and try again in a moment."
)


class DatabaseUnavailableMiddleware:
    """Turn OperationalError and InterfaceError into a 503 page (or JSON for fetch) with a Retry-After.

    Place it right after AuthenticationMiddleware: it loads the session and the user first, the queries every
    signed-in request makes before LoginRequiredMiddleware, so that an outage there is answered too; the
    view's own queries reach `process_exception`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        try:
            if user is not None:
                user.is_authenticated  # noqa: B018 - evaluates the lazy user: the session and user queries
        except DATABASE_ERRORS as error:
            return unavailable(request, error)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            return unavailable(request, exception)
        return None


def unavailable(request: HttpRequest, error: Exception) -> HttpResponse:
    """The 503 answer. Rendered without context processors: they would query the database again."""
    # The driver's first line names the host and the failure, never a password (psycopg does not echo one).
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
    logger.error("Database unavailable during %s %s: %s", request.method, request.path, reason)
    if wants_json(request):
        response = JsonResponse({"ok": False, "message": MESSAGE, "hint": ""}, status=503)
    else:
        response = HttpResponse(render_to_string("503.html", {"message": MESSAGE}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
