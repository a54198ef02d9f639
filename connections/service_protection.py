"""When Dataverse's service protection says a connection's scheduled re-tests should wait. Pure: the model stores it.

A 429 asks for `Retry-After` seconds: the next scheduled TEST waits at least that long. A budget below
SERVICE_PROTECTION_RESERVE percent (requests or execution time left in the 300-second window) means the
integration is busy on that environment: the next scheduled TEST waits one window, so the connector never spends the
integration's own budget.
"""

from datetime import datetime, timedelta

from connections.dynamics import protection


def wait_until(seen: dict, now: datetime, reserve_percent: int) -> datetime | None:
    """The earliest time the next scheduled TEST may run after a TEST that saw `seen`; None: no reason to wait."""
    if not seen:
        return None
    waits = []
    if seen.get("retry_after") is not None:
        waits.append(float(seen["retry_after"]))
    left = protection.share_left(seen)
    if left is not None and left * 100 < reserve_percent:
        waits.append(float(seen.get("window_seconds", protection.WINDOW_SECONDS)))
    return now + timedelta(seconds=max(waits)) if waits else None


def is_low(seen: dict, reserve_percent: int) -> bool:
    left = protection.share_left(seen)
    return left is not None and left * 100 < reserve_percent
