"""Abuse limits for TEST: a rate per user and per target host (one TEST at a time per connection is TestRun's rule).

Counters live in Django's cache (Redis in production via CACHE_URL, so every worker shares them).
"""

import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)
WINDOW = 60  # seconds
CACHE_UNAVAILABLE = (
    "Connection unavailable: TEST could not start, because the cache that counts TESTs is not reachable ({reason}). "
    "Nothing was sent to Microsoft. Try again in a moment; if it persists, an operator should check CACHE_URL."
)


@dataclass(frozen=True)
class ThrottleRefusal:
    message: str
    retry_after: int
    status: int = 429  # 503: the TEST could not be counted (the cache is down)
    busy: bool = False  # one is running for this target already (the API answers 409 Conflict; the pages 429)


class TestRefusedError(Exception):
    def __init__(self, refusal: ThrottleRefusal):
        super().__init__(refusal.message)
        self.refusal = refusal


def count(key: str) -> int:
    """Count one event under `key` in this minute's window; the count so far (the cache may raise)."""
    window = int(time.time() // WINDOW)
    bucket = f"throttle:{key}:{window}"
    cache.add(bucket, 0, timeout=WINDOW * 2)
    try:
        return cache.incr(bucket)
    except ValueError:  # evicted between add and incr
        cache.set(bucket, 1, timeout=WINDOW * 2)
        return 1


def _retry_after() -> int:
    return WINDOW - int(time.time()) % WINDOW


def check_rate(user_id: int, url: str) -> None:
    """Count one TEST for this user and this target host; raise TestRefusedError over the limits, or when the
    cache cannot count (a TEST that cannot be counted does not start: the limits hold even during an outage)."""
    try:
        _check_rate(user_id, url)
    except TestRefusedError:
        raise
    except Exception as error:  # noqa: BLE001 - redis or another cache backend: whatever the cache raises, say so
        logger.error("The cache refused to count a TEST: %s", type(error).__name__)
        reason = str(error).split("\n")[0][:120] or "no answer"
        raise TestRefusedError(ThrottleRefusal(CACHE_UNAVAILABLE.format(reason=reason), 10, status=503)) from error


def _check_rate(user_id: int, url: str) -> None:
    host = (urlsplit(url).hostname or "").lower()
    if count(f"user:{user_id}") > settings.TEST_RATE_PER_USER:
        raise TestRefusedError(
            ThrottleRefusal(
                f"Connection unavailable: TEST not run. You started more than {settings.TEST_RATE_PER_USER} "
                f"TESTs in the last minute; wait {_retry_after()} s and try again.",
                _retry_after(),
            )
        )
    if host and count(f"host:{host}") > settings.TEST_RATE_PER_HOST:
        raise TestRefusedError(
            ThrottleRefusal(
                f"Connection unavailable: TEST not run. {host} was tested more than "
                f"{settings.TEST_RATE_PER_HOST} times in the last minute; wait {_retry_after()} s and try again.",
                _retry_after(),
            )
        )
