"""The problem responses each kind of operation can answer, for drf-spectacular's `extend_schema`."""

from drf_spectacular.utils import OpenApiResponse

from api.problems import PROBLEM_JSON
from api.serializers import ProblemSerializer

DESCRIPTIONS = {
    400: "Validation failed: `errors` holds the messages of each field.",
    401: "No credentials, or a bad or expired token.",
    403: "Not allowed (the owner and administrators only), CSRF failed, or the Premium connector has no trial or "
    "subscription.",
    404: "No such resource, or one the user may not see.",
    405: "Method not allowed.",
    406: "Only application/json can be answered.",
    409: "A TEST (or Check access) of this connection is already running, or Check access needs a good TEST first.",
    412: "If-Match names an older version of the connection: GET it again.",
    415: "The body must be application/json.",
    428: "If-Match is required.",
    429: "TEST's rate limits: see Retry-After.",
    500: "An internal error (with an incident id; never a traceback).",
    503: "The task queue, the cache or the database is unavailable: see Retry-After.",
}
COMMON = (401, 403, 404, 405, 406, 500, 503)


def problems(*statuses: int) -> dict:
    """The responses of `statuses` and the common ones, each a problem (application/problem+json)."""
    return {
        (status, PROBLEM_JSON): OpenApiResponse(ProblemSerializer, description=DESCRIPTIONS[status])
        for status in sorted({*COMMON, *statuses})
    }
