"""Plain request/response values passed between the HTTP layer and the handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    host: str  # lowercase, without port
    path: str  # without query string
    query: str
    headers: Message
    body: bytes
    connection_id: int
    client_ip: str = ""  # the TCP peer's address (Dataverse's IP firewall reads it)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def form(self) -> dict[str, str]:
        """The urlencoded body as a dict (first value wins), or {} if not a form post."""
        content_type = (self.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return {}
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def query_params(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.query, keep_blank_values=True).items()}


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(
        cls,
        status: int,
        payload,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json; charset=utf-8",
    ) -> Response:
        all_headers = {"Content-Type": content_type, **(headers or {})}
        return cls(status, all_headers, json.dumps(payload).encode())

    @classmethod
    def empty(cls, status: int, headers: dict[str, str] | None = None) -> Response:
        return cls(status, dict(headers or {}), b"")
