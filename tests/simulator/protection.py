"""Dataverse service protection API limits, per user (an application user is one) and environment.

Microsoft's "Service protection API limits" page: each web server counts, in a 300-second sliding
window, the requests of a user (6000, ``0x80072322``) and their combined execution time (1,200 s,
``0x80072321``), and the user's concurrent requests (52, ``0x80072326``, refused at once). A refused
request gets 429 with ``Retry-After`` (seconds) and ``{"error": {"code", "message"}}``; answers
carry ``x-ms-ratelimit-burst-remaining-xrm-requests`` (requests left, e.g. ``5999``) and
``x-ms-ratelimit-time-remaining-xrm-requests`` (seconds left, written ``1,199.99``). The simulator
is one web server per environment (like a trial environment).

Every environment reports the default limits in those headers, but enforces nothing until
``Simulator.set_service_protection`` is called for it (benchmarks send more than 6000 requests in
five minutes). Each request is charged ``request_seconds`` of execution time (default 10 ms).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import jwt

from .messages import Request

REQUESTS = ("0x80072322", "Number of requests exceeded the limit of {requests} over time window of {window} seconds.")
EXECUTION_TIME = (
    "0x80072321",
    "Combined execution time of incoming requests exceeded limit of {milliseconds:,} milliseconds over time window "
    "of {window} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again "
    "later.",
)
CONCURRENCY = ("0x80072326", "Number of concurrent requests exceeded the limit of {concurrent}.")
BURST_HEADER = "x-ms-ratelimit-burst-remaining-xrm-requests"
TIME_HEADER = "x-ms-ratelimit-time-remaining-xrm-requests"


@dataclass
class Limits:
    requests: int = 6000
    execution_seconds: float = 1200.0
    concurrent: int = 52
    window: int = 300
    request_seconds: float = 0.01  # execution time charged for each request
    retry_after: int | None = None  # None = until the window has room again
    enforced: bool = False
    seed: tuple[float, int, float] | None = None  # (time, requests, seconds) already used by every principal


@dataclass
class Refusal:
    """A 429 to send: Dataverse's code and message, and the Retry-After seconds."""

    code: str
    message: str
    retry_after: int


@dataclass
class Usage:
    charges: deque = field(default_factory=deque)  # of (time, requests, seconds)
    in_flight: int = 0


def principal_of(claims: dict) -> str:
    """Who the limits count: the signed-in user (delegated ``scp`` token) or the app."""
    return f"user:{claims.get('oid', '')}" if "scp" in claims else f"app:{claims.get('appid') or claims.get('azp')}"


class ServiceProtection:
    """The counters of every (environment, principal); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._limits: dict[str, Limits] = {}
            self._usage: dict[tuple[str, str], Usage] = {}

    def configure(self, env_key: str, limits: Limits) -> None:
        with self._lock:
            self._limits[env_key] = limits
            self._usage = {key: usage for key, usage in self._usage.items() if key[0] != env_key}

    @contextlib.contextmanager
    def in_flight(self, env_key: str, request: Request) -> Iterator[None]:
        """Count the request as concurrent from its arrival (knob delays included) to its answer."""
        key = (env_key, principal_of(_unverified_claims(request)))
        with self._lock:
            self._usage_of(key).in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                usage = self._usage_of(key)
                usage.in_flight = max(0, usage.in_flight - 1)

    def charge(self, env_key: str, claims: dict, now: float) -> tuple[Refusal | None, dict[str, str]]:
        """Refuse the request (an enforced limit is used up) or count it; return the rate-limit headers."""
        with self._lock:
            limits = self._limits.get(env_key) or Limits()
            usage = self._usage_of((env_key, principal_of(claims)))
            while usage.charges and usage.charges[0][0] <= now - limits.window:
                usage.charges.popleft()
            requests = sum(c[1] for c in usage.charges)
            seconds = sum(c[2] for c in usage.charges)
            refusal = _refusal(limits, usage, requests, seconds, now) if limits.enforced else None
            if refusal is None:
                usage.charges.append((now, 1, limits.request_seconds))
                requests, seconds = requests + 1, seconds + limits.request_seconds
            return refusal, {
                BURST_HEADER: str(max(0, limits.requests - requests)),
                TIME_HEADER: f"{max(0.0, limits.execution_seconds - seconds):,.2f}",
            }

    def _usage_of(self, key: tuple[str, str]) -> Usage:
        usage = self._usage.get(key)
        if usage is None:
            usage = self._usage[key] = Usage()
            seed = (self._limits.get(key[0]) or Limits()).seed
            if seed is not None:
                usage.charges.append(seed)
        return usage


def _refusal(limits: Limits, usage: Usage, requests: int, seconds: float, now: float) -> Refusal | None:
    """The first limit this request would break, in the order Dataverse applies them."""
    if usage.in_flight > limits.concurrent:
        return Refusal(*worded(CONCURRENCY, limits), limits.retry_after or 1)
    if requests >= limits.requests:
        return Refusal(*worded(REQUESTS, limits), _retry_after(limits, usage, now, 1, 0.0))
    if seconds >= limits.execution_seconds:
        return Refusal(*worded(EXECUTION_TIME, limits), _retry_after(limits, usage, now, 0, limits.request_seconds))
    return None


def _retry_after(limits: Limits, usage: Usage, now: float, need_requests: int, need_seconds: float) -> int:
    """Seconds until enough of the window has slid past for one more request (or the knob's value)."""
    if limits.retry_after is not None:
        return limits.retry_after
    requests = sum(c[1] for c in usage.charges)
    seconds = sum(c[2] for c in usage.charges)
    for time, used_requests, used_seconds in usage.charges:
        requests, seconds = requests - used_requests, seconds - used_seconds
        if requests + need_requests <= limits.requests and seconds + need_seconds <= limits.execution_seconds:
            return max(1, math.ceil(time + limits.window - now))
    return limits.window


def worded(template: tuple[str, str], limits: Limits) -> tuple[str, str]:
    """The code and the message with this environment's limits filled in."""
    code, message = template
    values = {
        "requests": limits.requests,
        "window": limits.window,
        "milliseconds": round(limits.execution_seconds * 1000),
        "concurrent": limits.concurrent,
    }
    return code, message.format(**values)


def _unverified_claims(request: Request) -> dict:
    scheme, _, token = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer":
        return {}
    try:
        return jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return {}
