"""One pooled, guarded HTTPS session per process, with timeouts bounded by the TEST's time budget."""

import email.utils
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

from connections.dynamics import guard, protection, proxy
from connections.dynamics.errors import BudgetExceededError
from connections.dynamics.tunnel import OutboundAdapter

RETRY_STATUSES = (429, 503)
DEFAULT_RETRY_AFTER = 1.0
USER_AGENT = "gathr-dynamics-crm-connector/1.0"

_session: requests.Session | None = None
_session_lock = threading.Lock()


def session() -> requests.Session:
    """The process-wide session: keep-alive pools, guard on every connection, no redirects."""
    global _session
    with _session_lock:
        if _session is None:
            _session = _new_session()
        return _session


def reset_session() -> None:
    global _session
    with _session_lock:
        if _session is not None:
            _session.close()
        _session = None


def _new_session(pool_connections: int = 32, pool_maxsize: int = 8, direct: bool = False) -> requests.Session:
    new = requests.Session()
    # Pools sized for the gunicorn threads that may TEST at once.
    adapter = OutboundAdapter(
        pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=0, direct=direct
    )
    new.mount("https://", adapter)
    new.mount("http://", adapter)
    new.headers["User-Agent"] = USER_AGENT
    return new


def private_session(direct: bool = False) -> requests.Session:
    """A session of one TEST's own: guarded like the shared one, one connection per host, closed by the caller.

    `direct`: never through the operator's proxy (the managed identity's endpoint must not be proxied)."""
    return _new_session(pool_connections=2, pool_maxsize=1, direct=direct)


@dataclass(frozen=True)
class Limits:
    """What an operator allows one TEST: its time budget, the connect and read timeouts, the non-public
    networks it may reach and the proxy it goes through (the Django side builds it from settings)."""

    total: float = 30.0
    connect: float = 5.0
    read: float = 15.0
    allowed_networks: tuple[guard.IPNetwork, ...] = ()
    proxies: proxy.Proxies | None = None


@dataclass
class Deadline:
    """The time budget of one TEST, with the connect and read timeouts capped by what is left."""

    total: float
    connect: float
    read: float
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        return self.total - (time.monotonic() - self.started)

    def timeouts(self) -> tuple[float, float]:
        left = self.remaining()
        if left <= 0.05:
            raise BudgetExceededError()
        return (min(self.connect, left), min(self.read, left))

    def allows(self, seconds: float) -> bool:
        return seconds + 0.5 < self.remaining()


@dataclass
class Exchange:
    """What one request of the TEST did: for request counts and for explaining errors."""

    method: str
    url: str
    status: int | None = None
    retried: bool = False
    elapsed: float = 0.0
    error_body: dict | None = None  # an error answer's JSON (Entra's errors hold no secrets)
    # Dataverse's service protection headers on the answer, and the Retry-After of a 429/503 (even one retried).
    budget_seen: protection.Reading = field(default_factory=protection.Reading)
    retry_after: float | None = None


_deadline: ContextVar[Deadline | None] = ContextVar("test_deadline", default=None)
_exchanges: ContextVar[list | None] = ContextVar("test_exchanges", default=None)


@contextmanager
def budget(limits: Limits):
    """Run a TEST's requests under a new deadline, the guard's allowed networks and the proxy, recording each
    exchange."""
    deadline = Deadline(limits.total, limits.connect, limits.read)
    deadline_token = _deadline.set(deadline)
    exchanges_token = _exchanges.set([])
    try:
        with guard.allowing(limits.allowed_networks), proxy.using(limits.proxies):
            yield deadline
    finally:
        _deadline.reset(deadline_token)
        _exchanges.reset(exchanges_token)


def exchanges() -> list[Exchange]:
    return list(_exchanges.get() or [])


def current_deadline() -> Deadline:
    """The running TEST's deadline; outside `budget`, the default limits' (never an unbounded request)."""
    default = Limits()
    return _deadline.get() or Deadline(default.total, default.connect, default.read)


def retry_after_seconds(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return DEFAULT_RETRY_AFTER
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class BoundedClient:
    """msal's http_client and ours: every request bounded by the deadline, one polite retry on 429/503.

    It sends through the process-wide session, or through `own_session` when a TEST needs connections of its
    own (NTLM authenticates a connection, which must never be handed to another TEST from the shared pool).
    """

    def __init__(self, own_session: requests.Session | None = None, max_connect: float | None = None):
        self._own_session = own_session
        self._max_connect = max_connect  # a connect timeout shorter than the operator's (None: theirs)

    def get(self, url, **kwargs) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url, **kwargs) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        """msal may close its client; the shared session outlives any one app."""

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        kwargs.pop("timeout", None)
        kwargs.pop("allow_redirects", None)
        deadline = current_deadline()
        exchange = Exchange(method, url.split("?")[0])
        log = _exchanges.get()
        if log is not None:
            log.append(exchange)
        started = time.monotonic()
        try:
            response = self._send(method, url, deadline, exchange, kwargs)
        finally:
            exchange.elapsed = time.monotonic() - started
        exchange.status = response.status_code
        exchange.budget_seen = protection.read(response.headers, exchange.retry_after)
        if log is not None and response.history:  # an NTLM handshake: its 401s were requests too
            position = log.index(exchange)
            log[position:position] = [
                Exchange(method, exchange.url, earlier.status_code) for earlier in response.history
            ]
        if response.status_code >= 400 and not kwargs.get("stream"):
            exchange.error_body = _json_or_none(response)
        return response

    def _send(self, method, url, deadline, exchange, kwargs) -> requests.Response:
        sender = self._own_session or session()
        response = sender.request(method, url, timeout=self._timeouts(deadline), allow_redirects=False, **kwargs)
        if response.status_code in RETRY_STATUSES:
            wait = exchange.retry_after = retry_after_seconds(response)
            if deadline.allows(wait):
                response.close()
                time.sleep(wait)
                exchange.retried = True
                response = sender.request(
                    method, url, timeout=self._timeouts(deadline), allow_redirects=False, **kwargs
                )
        return response

    def _timeouts(self, deadline: Deadline) -> tuple[float, float]:
        connect, read = deadline.timeouts()
        return (min(connect, self._max_connect), read) if self._max_connect else (connect, read)


def _json_or_none(response: requests.Response) -> dict | None:
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


client = BoundedClient()
