"""Dataverse's service protection limits as one TEST saw them, from the answers' headers.

Dataverse counts, per user (an application user is one) and web server, in a sliding 300-second window: 6,000
requests and 1,200 seconds of combined execution time. Every answer says what is left
(`x-ms-ratelimit-burst-remaining-xrm-requests`, `x-ms-ratelimit-time-remaining-xrm-requests`); a refusal is a 429
with `Retry-After`. The integration that uses the connection spends the same budget: the scheduled re-tests read
this to stay out of its way (connections/schedule.py).
"""

from dataclasses import dataclass

BURST_HEADER = "x-ms-ratelimit-burst-remaining-xrm-requests"
TIME_HEADER = "x-ms-ratelimit-time-remaining-xrm-requests"
# Microsoft's documented defaults ("Service protection API limits"); the headers say only what is left.
REQUEST_LIMIT = 6000
EXECUTION_SECONDS_LIMIT = 1200.0
WINDOW_SECONDS = 300
WEB_API_PATH = "/api/data/"


@dataclass(frozen=True)
class Reading:
    """What one Dataverse answer said about the budget; None where it said nothing."""

    requests_left: int | None = None
    seconds_left: float | None = None
    retry_after: float | None = None  # a 429's (or 503's) Retry-After, in seconds

    @property
    def says_anything(self) -> bool:
        return any(value is not None for value in (self.requests_left, self.seconds_left, self.retry_after))


def read(headers, retry_after: float | None) -> Reading:
    """The reading of one answer's headers (`retry_after`: what a refusal asked for, already parsed)."""
    return Reading(_number(headers.get(BURST_HEADER), int), _number(headers.get(TIME_HEADER), float), retry_after)


def _number(value: str | None, kind):
    if value is None:
        return None
    try:
        number = kind(float(value.replace(",", "").strip()))
    except ValueError:
        return None
    return number if number >= 0 else None


def summary(readings: list[tuple[str, Reading]]) -> dict:
    """The TEST's view of the budget, as plain data: the last counts Dataverse's Web API gave, and the longest
    Retry-After it asked for. Empty when no Web API answer carried any (on-premises servers, a TEST that stopped
    before Dataverse)."""
    kept = [reading for url, reading in readings if WEB_API_PATH in url and reading.says_anything]
    if not kept:
        return {}
    counted = [reading for reading in kept if reading.requests_left is not None or reading.seconds_left is not None]
    last = counted[-1] if counted else Reading()
    waits = [reading.retry_after for reading in kept if reading.retry_after is not None]
    return {
        "requests_left": last.requests_left,
        "requests_limit": REQUEST_LIMIT,
        "seconds_left": last.seconds_left,
        "seconds_limit": EXECUTION_SECONDS_LIMIT,
        "window_seconds": WINDOW_SECONDS,
        "retry_after": max(waits) if waits else None,
    }


def share_left(seen: dict) -> float | None:
    """The smaller of the two shares of the budget left (0.0 to 1.0), or None when the TEST saw no counts."""
    shares = []
    if seen.get("requests_left") is not None:
        shares.append(seen["requests_left"] / seen.get("requests_limit", REQUEST_LIMIT))
    if seen.get("seconds_left") is not None:
        shares.append(seen["seconds_left"] / seen.get("seconds_limit", EXECUTION_SECONDS_LIMIT))
    return min(shares) if shares else None
