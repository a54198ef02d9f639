"""Queueing work for the worker (a TEST, a Check access): the row first, then its task with only the row's id.

The row's unique constraints decide what may not run twice at once (`on_conflict` says what that means for the
caller); a queue that refuses the task (Redis or the SQLite queue file down) leaves no row behind.
"""

import logging
from collections.abc import Callable

from django.db import IntegrityError, models, transaction

logger = logging.getLogger(__name__)


class QueueUnavailableError(Exception):
    """The task queue (Redis or the SQLite queue file) refused the work: it cannot start now."""


def enqueue[Row: models.Model](row: Row, task: Callable[[str], object], what: str, on_conflict) -> Row:
    """Save `row` and queue `task(row id)`; `on_conflict(row)` returns the exception a constraint's refusal raises.

    Raises QueueUnavailableError when the queue refuses the task."""
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        raise on_conflict(row) from None
    try:
        task(str(row.pk))
    except Exception as error:  # noqa: BLE001 - redis, sqlite3 or huey: whatever the queue raises, say so
        logger.error("The task queue refused %s %s: %s", what, row.pk, type(error).__name__)
        type(row).objects.filter(pk=row.pk).delete()
        raise QueueUnavailableError(str(error)) from error
    row.refresh_from_db()  # immediate mode (tests) has run it already
    return row
