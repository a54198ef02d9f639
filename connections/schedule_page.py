"""The connection page's "Scheduled re-tests" card: when the schedule TESTs the connection next, and Dataverse's
service protection budget as its last TEST saw it (Connection.service_protection), read from the row alone."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from connections import service_protection
from connections.models import Connection
from marketplace.catalogue import DYNAMICS_CRM
from marketplace.entitlements import shown_status


@dataclass(frozen=True)
class Budget:
    requests_left: int | None
    requests_limit: int
    seconds_left: float | None
    seconds_limit: float
    window_minutes: int
    seen_at: datetime | None
    retry_after: float | None
    low: bool


@dataclass(frozen=True)
class Schedule:
    interval: int  # minutes; 0 when the operator turned the schedule off
    paused: bool  # no trial or subscription for the Premium connector
    next_at: datetime | None
    due: bool
    waiting: bool  # put back by Dataverse (a 429's Retry-After or a low budget)
    reserve: int
    budget: Budget | None


def summary(connection: Connection) -> Schedule:
    status = shown_status(DYNAMICS_CRM)
    return Schedule(
        interval=settings.SCHEDULED_TEST_INTERVAL,
        paused=not (status and status.active),
        next_at=connection.next_test_at,
        due=connection.next_test_at is not None and connection.next_test_at <= timezone.now(),
        waiting=_waiting(connection),
        reserve=settings.SERVICE_PROTECTION_RESERVE,
        budget=_budget(connection.service_protection),
    )


def _budget(seen: dict) -> Budget | None:
    if not seen:
        return None
    seen_at = seen.get("seen_at")
    return Budget(
        requests_left=seen.get("requests_left"),
        requests_limit=seen.get("requests_limit", 6000),
        seconds_left=seen.get("seconds_left"),
        seconds_limit=seen.get("seconds_limit", 1200.0),
        window_minutes=round(seen.get("window_seconds", 300) / 60),
        seen_at=datetime.fromisoformat(seen_at) if seen_at else None,
        retry_after=seen.get("retry_after"),
        low=service_protection.is_low(seen, settings.SERVICE_PROTECTION_RESERVE),
    )


def _waiting(connection: Connection) -> bool:
    """The next scheduled TEST is later than the interval alone would put it: Dataverse asked for the wait."""
    seen = connection.service_protection
    if not seen or connection.next_test_at is None or connection.next_test_at <= timezone.now():
        return False
    finished = datetime.fromisoformat(seen["seen_at"]) if seen.get("seen_at") else None
    wait = service_protection.wait_until(seen, finished, settings.SERVICE_PROTECTION_RESERVE) if finished else None
    return wait is not None and wait > timezone.now()
