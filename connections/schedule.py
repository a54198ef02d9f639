"""Scheduled re-tests: every saved connection TESTed once per SCHEDULED_TEST_INTERVAL by the workers themselves.

Huey's periodic task (background.scheduled_tests, every minute on every worker) and the end of each scheduled TEST
call `dispatch`. Three rules hold however many workers and app servers run, each kept by the database:
- exactly one scheduled TEST per connection per interval: a connection's `next_test_at` is claimed with a
  compare-and-set UPDATE (only the worker whose UPDATE still sees the old due time starts it);
- bounded concurrency: a scheduled TEST holds one of SCHEDULED_TEST_CONCURRENCY slots while it is queued or running,
  a partial unique constraint on TestRun; never two TESTs at once for one connection (its lock key, as for people);
- none while the Premium connector has no trial or subscription.
A 429's Retry-After, or a Dataverse budget below SERVICE_PROTECTION_RESERVE, puts `next_test_at` back
(Connection.record_test). A new connection joins at a random point of the next interval, so that many connections
created together (or this feature's migration) do not all TEST in the same minute.
"""

import logging
import random
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from connections.models import Connection
from connections.runs import RunState, TestRun
from connections.throttle import TestRefusedError
from marketplace import gate
from marketplace.catalogue import DYNAMICS_CRM

logger = logging.getLogger(__name__)
ACTIVE = (RunState.QUEUED, RunState.RUNNING)
SPREAD_BATCH = 500  # connections joining the schedule per dispatch
_dispatching: ContextVar[bool] = ContextVar("schedule_dispatching", default=False)


class SlotTakenError(Exception):
    """Another worker took the slot first: the scheduled TEST was not queued."""


def interval() -> timedelta:
    return timedelta(minutes=settings.SCHEDULED_TEST_INTERVAL)


def next_after(now: datetime) -> datetime:
    """One interval on, give or take SCHEDULED_TEST_JITTER percent: connections do not stay in step."""
    jitter = settings.SCHEDULED_TEST_JITTER / 100
    return now + interval() * (1 + random.uniform(-jitter, jitter))


def enabled() -> bool:
    if not settings.SCHEDULED_TEST_INTERVAL or not settings.SCHEDULED_TEST_CONCURRENCY:
        return False
    try:
        gate.require(DYNAMICS_CRM)
    except gate.ConnectorUnavailableError:
        return False
    return True


def dispatching() -> bool:
    """True inside `dispatch` (a TEST run inline by it must not start another dispatch)."""
    return _dispatching.get()


def free_slots() -> list[int]:
    taken = set(TestRun.objects.filter(state__in=ACTIVE, slot__isnull=False).values_list("slot", flat=True))
    return [slot for slot in range(settings.SCHEDULED_TEST_CONCURRENCY) if slot not in taken]


def dispatch(start: Callable[[Connection, int], TestRun], now: datetime | None = None) -> int:
    """Start due connections' scheduled TESTs while slots are free; how many started.

    `start(connection, slot)` queues one (background.start_scheduled): it raises SlotTakenError, or
    throttle.TestRefusedError when a TEST of the connection is already running (that TEST stands for this one)."""
    if not enabled():
        return 0
    now = now or timezone.now()
    with _inside_dispatch():
        _spread_new(now)
        started, slots = 0, free_slots()
        while slots and (due := _due(now, len(slots))):
            for connection in due:
                if slots and _claim(connection, now):
                    started += _start(start, connection, slots)
            slots = slots or free_slots()
    return started


@contextmanager
def _inside_dispatch():
    token = _dispatching.set(True)
    try:
        yield
    finally:
        _dispatching.reset(token)


def _due(now: datetime, how_many: int) -> list[Connection]:
    fields = ("id", "next_test_at", "crm_version", "auth_scheme", "url")
    return list(Connection.objects.filter(next_test_at__lte=now).order_by("next_test_at").only(*fields)[:how_many])


def _claim(connection: Connection, now: datetime) -> bool:
    """Take this interval's TEST of the connection: one worker's UPDATE matches its due time, the others' none."""
    claimed = Connection.objects.filter(pk=connection.pk, next_test_at=connection.next_test_at)
    return bool(claimed.update(next_test_at=next_after(now)))


def _start(start, connection: Connection, slots: list[int]) -> int:
    slot = slots.pop(0)
    try:
        start(connection, slot)
    except TestRefusedError:
        return 0  # a TEST of it is running now: it is this interval's
    except SlotTakenError:  # another worker's dispatch filled it: this connection waits for the next free slot
        _unclaim(connection)
        slots[:] = free_slots()
        return 0
    except Exception:  # the queue refused it: the connection stays due
        _unclaim(connection)
        raise
    return 1


def _unclaim(connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(next_test_at=connection.next_test_at)


def _spread_new(now: datetime) -> None:
    """Connections new to the schedule get a random time within the next interval (each only once)."""
    joining = Connection.objects.filter(next_test_at__isnull=True)
    for pk in joining.values_list("pk", flat=True)[:SPREAD_BATCH]:
        when = now + interval() * random.random()
        Connection.objects.filter(pk=pk, next_test_at__isnull=True).update(next_test_at=when)
