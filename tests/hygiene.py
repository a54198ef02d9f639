"""What the secret hygiene sweep collects and searches: every response, log record, email and database row,
for every secret in every encoding a page, a header, a URL, a log or a column could carry it in."""

import base64
import html
import json
import logging
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus, urlsplit

from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.sessions.models import Session
from django.db import connection
from django.http import HttpRequest

ENCODINGS = {
    "plain": lambda text: text,
    "base64": lambda text: base64.b64encode(text.encode()).decode(),
    "base64 unpadded": lambda text: base64.b64encode(text.encode()).decode().rstrip("="),
    "base64url": lambda text: base64.urlsafe_b64encode(text.encode()).decode(),
    "base64url unpadded": lambda text: base64.urlsafe_b64encode(text.encode()).decode().rstrip("="),
    "URL-encoded": lambda text: quote(text, safe=""),
    "form-encoded": lambda text: quote_plus(text),
    "HTML-escaped": lambda text: html.escape(text),
    "JSON-escaped": lambda text: json.dumps(text)[1:-1],
}
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


@dataclass(frozen=True)
class Needle:
    secret: str  # what it is, e.g. "client secret"
    encoding: str
    text: str


def needles(secrets: dict[str, list[str]]) -> list[Needle]:
    """Every distinct encoding of every value of every secret."""
    found: dict[str, Needle] = {}
    for name, values in secrets.items():
        for value in values:
            for encoding, encode in ENCODINGS.items():
                text = encode(value)
                found.setdefault(text, Needle(name, encoding, text))
    return list(found.values())


@dataclass
class Evidence:
    """Texts to search, each with where it came from."""

    responses: list[tuple[str, str]] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)
    rows: list[tuple[str, str]] = field(default_factory=list)

    def add_response(self, label: str, response) -> None:
        self.responses.append((f"{label} (HTTP {response.status_code})", response_text(response)))

    def everything(self) -> list[tuple[str, str]]:
        return self.responses + self.logs + self.rows


def response_text(response) -> str:
    """Status, headers, cookies (the messages cookie decoded) and body of a test client response."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    parts = [f"HTTP {response.status_code}", *(f"{name}: {value}" for name, value in response.items())]
    parts.append(response.cookies.output())
    if "messages" in response.cookies and response.cookies["messages"].value:
        decoded = CookieStorage(HttpRequest())._decode(response.cookies["messages"].value) or []
        parts.extend(str(message) for message in decoded)
    parts.append(body.decode("utf-8", "replace"))
    return "\n".join(parts)


def log_text(record: logging.LogRecord) -> str:
    """A record as any handler could write it: message, arguments, traceback, stack and extras."""
    formatter = logging.Formatter()
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = str(record.msg)
    parts = [record.name, message, repr(record.args), record.exc_text or "", record.stack_info or ""]
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    parts.extend(f"{key}={value!r}" for key, value in vars(record).items() if key not in _RECORD_FIELDS)
    return "\n".join(parts)


def database_rows() -> list[tuple[str, str]]:
    """Every row of every table as text, and the decoded contents of every session."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - our own table names
            rows.extend((table, " | ".join(_as_text(value) for value in row)) for row in cursor.fetchall())
    rows.extend(("django_session (decoded)", repr(session.get_decoded())) for session in Session.objects.all())
    return rows


def _as_text(value) -> str:
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).decode("latin-1")
    return str(value)


def leaks(needles_: list[Needle], evidence: list[tuple[str, str]]) -> list[str]:
    return [
        f"{needle.secret} ({needle.encoding}) in {where}"
        for where, text in evidence
        for needle in needles_
        if needle.text in text
    ]


def local_path(location: str) -> str | None:
    """The path of a redirect that stays on this site, else None."""
    parts = urlsplit(location)
    if parts.netloc not in ("", "testserver"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
