"""RFC 9457 problem details: the one shape of every error the API answers (application/problem+json).

`handle` is REST framework's EXCEPTION_HANDLER: the use cases' own errors (the Premium gate, TEST's rate limits, a
TEST already running, the queue down) and REST framework's become a problem with its status; anything else is our
bug, logged (cleansed, under an incident id) and answered as a 500 that shows neither a traceback nor a value.
"""

import logging
import traceback
import uuid

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from connections import background, throttle
from marketplace import gate

logger = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:gathr:problem:"
TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    415: "Unsupported media type",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class ProblemError(exceptions.APIException):
    """A problem the API raises itself: a status, a type name, a detail and optional field errors."""

    def __init__(self, status_code: int, kind: str, detail: str, errors: dict | None = None, headers=None):
        super().__init__(detail)
        self.status_code, self.kind, self.errors, self.headers = status_code, kind, errors, headers or {}


def problem_body(request, status_code: int, kind: str, detail: str, errors=None) -> dict:
    body = {
        "type": TYPE_PREFIX + kind,
        "title": TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "instance": request.path if request is not None else "",
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem(request, status_code: int, kind: str, detail: str, *, errors=None, headers=None) -> Response:
    """The problem as REST framework's answer (its `data` is the body), typed application/problem+json."""
    body = problem_body(request, status_code, kind, detail, errors)
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_JSON)


def handle(exc, context):
    """REST framework's exception handler: every error as a problem."""
    request = context.get("request")
    known = _known(exc)
    if known is None:
        return _internal_error(request, exc)
    status_code, kind, detail, extra = known
    return problem(request, status_code, kind, detail, **extra)


def _known(exc):
    """(status, type, detail, extra) for the errors we mean; None for a bug."""
    if isinstance(exc, ProblemError):
        return exc.status_code, exc.kind, str(exc.detail), {"errors": exc.errors, "headers": exc.headers}
    if isinstance(exc, gate.ConnectorUnavailableError):
        return 403, "connector-unavailable", exc.refusal.message, {}
    if isinstance(exc, throttle.TestRefusedError):
        return _refused(exc.refusal)
    if isinstance(exc, background.QueueUnavailableError):
        return 503, "queue-unavailable", "TEST could not start: the task queue is not reachable.", _retry(10)
    if isinstance(exc, OperationalError | InterfaceError):
        return 503, "database-unavailable", "The database is unavailable right now; nothing was saved.", _retry(10)
    if isinstance(exc, Http404 | exceptions.NotFound):
        return 404, "not-found", str(exc) or "Not found.", {}
    if isinstance(exc, PermissionDenied):
        return 403, "forbidden", str(exc) or "You may not do this.", {}
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return 401, "not-authenticated", str(exc.detail), {"headers": {"WWW-Authenticate": 'Bearer realm="api"'}}
    if isinstance(exc, exceptions.ValidationError):
        return 400, "validation", "The request's values are not valid.", {"errors": _errors(exc.detail)}
    if isinstance(exc, exceptions.APIException):
        return _api_exception(exc)
    return None


def _refused(refusal: throttle.ThrottleRefusal):
    if refusal.busy:
        return 409, "already-running", refusal.message, _retry(refusal.retry_after)
    if refusal.status == 409:
        return 409, "test-first", refusal.message, {}
    kind = "rate-limited" if refusal.status == 429 else "unavailable"
    return refusal.status, kind, refusal.message, _retry(refusal.retry_after)


def _api_exception(exc: exceptions.APIException):
    kinds = {
        status.HTTP_400_BAD_REQUEST: "bad-request",
        status.HTTP_403_FORBIDDEN: "forbidden",
        status.HTTP_405_METHOD_NOT_ALLOWED: "method-not-allowed",
        status.HTTP_406_NOT_ACCEPTABLE: "not-acceptable",
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported-media-type",
        status.HTTP_429_TOO_MANY_REQUESTS: "rate-limited",
    }
    extra = _retry(int(exc.wait)) if getattr(exc, "wait", None) else {}
    return exc.status_code, kinds.get(exc.status_code, "error"), str(exc.detail), extra


def _retry(seconds: int) -> dict:
    return {"headers": {"Retry-After": str(max(int(seconds), 1))}}


def _errors(detail) -> dict:
    if isinstance(detail, dict):
        return {str(name): [str(message) for message in _as_list(messages)] for name, messages in detail.items()}
    return {"non_field_errors": [str(message) for message in _as_list(detail)]}


def _as_list(messages) -> list:
    return messages if isinstance(messages, list) else [messages]


def _internal_error(request, exc: Exception) -> Response:
    """The API's one edge for our own bugs: the traceback's frames and the type go to the log, never the message
    (it could quote a typed secret), and the client gets an incident id."""
    incident = uuid.uuid4().hex[:12]
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("Internal error %s in %s:\n%s%s", incident, request.path if request else "?", frames, type(exc))
    detail = f"An internal error stopped this request (incident {incident}). Give the id to your operator."
    return problem(request, 500, "internal-error", detail)


@csrf_exempt  # any method: no form, nothing changes
@login_not_required
def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any other address under /api/v1/ (an id that is not a number, a typo): a problem too, never the HTML page."""
    return JsonResponse(problem_body(request, 404, "not-found", "No such API address."), status=404,
                        content_type=PROBLEM_JSON)  # fmt: skip
