"""What the secret hygiene sweep collects and searches: every response, log record, email and database row,
for every secret in every encoding a page, a header, a URL, a log or a column could carry it in."""

import base64
import html
import json
import logging
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus, urlsplit

import msal
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.sessions.models import Session
from django.db import connection
from django.http import HttpRequest
from django.test import Client

from connections.credential_slots import CredentialSlot
from connections.dynamics import entra
from connections.models import Connection

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
FERNET = "gAAAAA"  # every Fernet token starts so (version byte 0x80)
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


class Browser:
    """A test client whose every response, redirects on this site included, goes into the evidence."""

    def __init__(self, evidence: Evidence, **client_options):
        self.client = Client(raise_request_exception=False, **client_options)
        self.evidence = evidence

    def get(self, label: str, url: str, expect: int = 200, **extra):
        return self._check(label, self._follow(label, self.client.get(url, **extra)), expect)

    def post(self, label: str, url: str, data=None, expect: int = 200, follow: bool = True, **extra):
        response = self.client.post(url, data or {}, **extra)
        return self._check(label, self._follow(label, response) if follow else self._keep(label, response), expect)

    def _keep(self, label: str, response):
        self.evidence.add_response(label, response)
        return response

    def _follow(self, label: str, response):
        self._keep(label, response)
        while response.status_code in (301, 302, 303) and local_path(response["Location"]):
            response = self._keep(f"{label} → redirect", self.client.get(local_path(response["Location"])))
        return response

    @staticmethod
    def _check(label: str, response, expect: int | None):
        if expect is None:  # a page of another part of the product, whatever it answers, if not a 5xx
            assert response.status_code < 500, f"{label}: HTTP {response.status_code}"
        else:
            assert response.status_code == expect, f"{label}: HTTP {response.status_code}, not {expect}"
        return response


def collect_app_tokens(world) -> None:
    """The app-only access tokens msal holds in memory after a TEST."""
    for app in list(entra.apps._apps.values()):
        access_tokens = app.token_cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)
        world.tokens += [entry["secret"] for entry in access_tokens]


def collect_delegated_tokens(world, pk: int) -> None:
    """The access, ID and refresh tokens of the stored sign-in, and every refresh token Entra issued."""
    cache = json.loads(Connection.objects.get(pk=pk).get_token_cache())
    for kind in ("AccessToken", "IdToken", "RefreshToken"):
        world.tokens += [entry["secret"] for entry in cache.get(kind, {}).values()]
    world.tokens += [token.value for token in world.sim.issued_refresh_tokens(world.person.object_id)]


def assert_ciphertext_only() -> None:
    columns = (
        "client_secret_encrypted",
        "certificate_encrypted",
        "token_cache_encrypted",
        "windows_password_encrypted",
    )
    for row in Connection.objects.values(*columns):
        assert all(not value or value.startswith(FERNET) for value in row.values()), row
    for value in CredentialSlot.objects.values_list("credential_encrypted", flat=True):
        assert value.startswith(FERNET), "a rotation slot's credential is not ciphertext"
