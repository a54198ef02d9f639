"""A database outage answers 503 with what to do, instead of a bare 500 page that seems to lose the typed form.

A lock wait is no outage. On SQLite every transaction takes the write lock when it begins (IMMEDIATE) and waits
up to SQLITE_BUSY_TIMEOUT for it, so concurrent writers queue instead of failing; this middleware only hears of a
lock that outlasted that wait, and says so: the database is busy, not down (docs/decisions/sqlite-concurrency.md).
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from gathr_connector.negotiation import wants_json

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 10
BUSY_RETRY_AFTER_SECONDS = 2
MESSAGE = (
    "The database is unavailable right now; nothing was saved. Go back — your browser still has what you "
    "typed — and try again in a moment."
)
BUSY_MESSAGE = (
    "The database was too busy to finish this request in time; it may not have been saved. Go back — your "
    "browser still has what you typed — and try again."
)
# SQLite's "database is locked" and "database table is locked" (with their extended codes, such as
# SQLITE_BUSY_SNAPSHOT); PostgreSQL's serialization failure, deadlock and lock_timeout.
LOCK_ERROR_NAMES = ("SQLITE_BUSY", "SQLITE_LOCKED")
LOCK_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


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


def is_lock_wait(error: Exception) -> bool:
    """True when the database is up but a lock was held longer than this request could wait."""
    driver_error = error.__cause__
    if getattr(driver_error, "sqlstate", None) in LOCK_SQLSTATES:
        return True
    return getattr(driver_error, "sqlite_errorname", "").startswith(LOCK_ERROR_NAMES)


def unavailable(request: HttpRequest, error: Exception) -> HttpResponse:
    """The 503 answer: busy or unavailable. Rendered without context processors: they would query again."""
    # The driver's first line names the host and the failure, never a password (psycopg does not echo one).
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
    if is_lock_wait(error):
        logger.warning("Database busy during %s %s: %s", request.method, request.path, reason)
        return _answer(request, "Database busy", BUSY_MESSAGE, BUSY_RETRY_AFTER_SECONDS)
    logger.error("Database unavailable during %s %s: %s", request.method, request.path, reason)
    return _answer(request, "Database unavailable", MESSAGE, RETRY_AFTER_SECONDS)


def _answer(request: HttpRequest, title: str, message: str, retry_after: int) -> HttpResponse:
    if wants_json(request):
        response = JsonResponse({"ok": False, "message": message, "hint": ""}, status=503)
    else:
        response = HttpResponse(render_to_string("503.html", {"title": title, "message": message}), status=503)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response
