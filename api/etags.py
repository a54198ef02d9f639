"""Optimistic concurrency for the connection resource: every read carries an ETag, every change needs If-Match.

The tag is a hash of what a change could overwrite (the form's fields and the stored credentials' ciphertexts) and
of `updated_at`: a TEST's outcome does not change it (nothing typed changes), any saved edit does. The check and
the write happen in one transaction holding the row (SQLite: the write lock taken when the transaction begins).
"""

import hashlib

from api.problems import ProblemError
from connections.forms import FIELD_ORDER, SENSITIVE_FIELDS
from connections.models import Connection

TAGGED = (
    *(name for name in FIELD_ORDER if name not in SENSITIVE_FIELDS),
    "client_secret_encrypted",
    "certificate_encrypted",
    "windows_password_encrypted",
    "federated_subject",
    "updated_at",
)
MISSING = (
    "This change needs an If-Match header with the connection's ETag (from a GET), so that it cannot overwrite a "
    "change made meanwhile."
)
STALE = "The connection was changed since you read it (its ETag is not the one you sent): GET it again and retry."


def etag(connection: Connection) -> str:
    material = "\x1f".join([str(connection.pk), *(str(getattr(connection, name)) for name in TAGGED)])
    return '"' + hashlib.sha256(material.encode()).hexdigest()[:32] + '"'


def require_match(request, connection: Connection) -> None:
    """Raise 428 when If-Match is missing and 412 when it names another version (strong comparison, RFC 9110)."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        raise ProblemError(428, "precondition-required", MISSING)
    if header == "*":
        return
    sent = {tag.strip() for tag in header.split(",")}
    if etag(connection) not in sent:
        raise ProblemError(412, "precondition-failed", STALE)
