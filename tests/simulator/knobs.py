"""Fault knobs: delays, forced statuses, dropped and silent connections, redirects.

Each rule is scoped by host (None = every host) and an optional substring of the
request target (path plus query). For one request, every matching delay is
served first; then the first applicable of silent, drop, forced response and
redirect decides the outcome (in that order). Persistent rules can be limited
to ``times`` uses; a forced-response queue is used up one entry per request.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from .messages import Request

SILENT, DROP = "silent", "drop"


@dataclass
class Forced:
    """A response to send instead of the normal one; ``body=None`` means the host's usual error body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | dict | str | None = None
    aadsts: int | None = None  # answer with this documented AADSTS error (Entra's body, ids and timestamp)


@dataclass
class Decision:
    delay: float = 0.0
    outcome: str | Forced | None = None  # None = answer normally


@dataclass
class Rule:
    kind: str  # "delay", "silent", "drop", "respond", "redirect"
    host: str | None
    path: str | None
    seconds: float = 0.0
    responses: deque = field(default_factory=deque)  # of Forced | None
    redirect: Forced | None = None
    remaining: int | None = None  # None = until cleared

    def matches(self, request: Request) -> bool:
        if self.host is not None and self.host != request.host:
            return False
        target = request.path + (f"?{request.query}" if request.query else "")
        return self.path is None or self.path in target


def parse_response_entry(entry) -> Forced | None:
    """``503``, ``(503, {"Retry-After": "1"})``, ``(503, headers, body)``; ``200``/``None`` = normal."""
    if entry is None:
        return None
    if isinstance(entry, int):
        return None if entry == 200 else Forced(entry)
    entry = tuple(entry)
    status = int(entry[0])
    headers = dict(entry[1] or {}) if len(entry) > 1 else {}
    body = entry[2] if len(entry) > 2 else None
    if status == 200 and body is None:
        return None
    return Forced(status, headers, body)


class Knobs:
    """The set of active rules; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []

    def add(self, rule: Rule) -> Rule:
        rule.host = rule.host.lower() if rule.host else None
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def decide(self, request: Request) -> Decision:
        """Consume the rules that apply to ``request`` and say what to do with it."""
        with self._lock:
            matching = [rule for rule in self._rules if rule.matches(request)]
            decision = Decision()
            for rule in (r for r in matching if r.kind == "delay"):
                self._use(rule)
                decision.delay += rule.seconds
            decision.outcome = self._outcome(matching)
            return decision

    def _outcome(self, matching: list[Rule]) -> str | Forced | None:
        """The first matching rule of each kind, by precedence, decides."""
        for kind in ("silent", "drop", "respond", "redirect"):
            rule = next((r for r in matching if r.kind == kind), None)
            if rule is None:
                continue
            if kind == "respond":
                forced = self._pop(rule)
                if forced is None:
                    continue  # this entry says "answer normally"
                return forced
            self._use(rule)
            return rule.redirect if kind == "redirect" else kind
        return None

    def _pop(self, rule: Rule) -> Forced | None:
        forced = rule.responses.popleft()
        if not rule.responses:
            self._rules.remove(rule)
        return forced

    def _use(self, rule: Rule) -> None:
        """Count one use of a persistent rule, removing it when its ``times`` run out."""
        if rule.remaining is not None:
            rule.remaining -= 1
            if rule.remaining <= 0:
                self._rules.remove(rule)
