"""A JSON body as the connection form's data: the API's own checks are the JSON types only, every rule and message
of the values comes from ConnectionForm. A certificate arrives base64-encoded and becomes the form's upload."""

import base64
import binascii
import datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.views.decorators.debug import sensitive_variables

from api.problems import ProblemError
from connections.dynamics.certificates import MAX_CERTIFICATE_BYTES
from connections.forms import FIELD_ORDER, SENSITIVE_FIELDS
from connections.models import Connection

WRITABLE = tuple(FIELD_ORDER)
NULLABLE = ("secret_expires_on",)
NOT_AN_OBJECT = "The body must be a JSON object of the connection's fields."
NOT_A_STRING = "Must be a string."
UNKNOWN = "Unknown field."
BAD_BASE64 = "Send the certificate file (PFX or PEM) base64-encoded."


@sensitive_variables("body", "data", "files")
def form_input(body, current: Connection | None = None) -> tuple[dict, dict]:
    """(data, files) for ConnectionForm from a JSON body; with `current` (PATCH) the body changes only the fields
    it names, the others keep their saved values. Raises ProblemError 400 for the wrong JSON types."""
    if not isinstance(body, dict):
        raise ProblemError(400, "validation", NOT_AN_OBJECT, errors={"non_field_errors": [NOT_AN_OBJECT]})
    errors = {name: [UNKNOWN] for name in body if name not in WRITABLE}
    for name, value in body.items():
        if name in WRITABLE and not isinstance(value, str) and not (value is None and name in NULLABLE):
            errors[name] = [NOT_A_STRING]
    if errors:
        raise ProblemError(400, "validation", "The request's values are not valid.", errors=errors)
    data = saved_values(current) if current is not None else {}
    data |= {name: value or "" for name, value in body.items() if name != "certificate"}
    files = {}
    if body.get("certificate"):
        files["certificate"] = SimpleUploadedFile("certificate", _decoded(body["certificate"]))
    return data, files


def saved_values(connection: Connection) -> dict:
    """The connection's form fields as a form would post them (no secret: a blank secret keeps the stored one)."""
    values = {}
    for name in WRITABLE:
        if name in SENSITIVE_FIELDS:
            continue
        value = getattr(connection, name)
        values[name] = value.isoformat() if isinstance(value, datetime.date) else ("" if value is None else value)
    return values


@sensitive_variables("text")
def _decoded(text: str) -> bytes:
    try:
        data = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ProblemError(400, "validation", BAD_BASE64, errors={"certificate": [BAD_BASE64]}) from None
    return data[: MAX_CERTIFICATE_BYTES + 1]


def form_errors(form) -> dict:
    """The form's errors by field (its own messages); errors of the whole form under non_field_errors."""
    return {
        ("non_field_errors" if name == "__all__" else name): [str(message) for message in messages]
        for name, messages in form.errors.items()
    }


def invalid(form) -> ProblemError:
    return ProblemError(400, "validation", "The connection's values are not valid.", errors=form_errors(form))
