"""A user's "Request access" to a Premium connector: the administrators hear of it once per user and day."""

import datetime as dt
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace import notify
from marketplace.entitlements import status_of
from marketplace.models import AccessRequest, Connector


class RequestOutcome(StrEnum):
    SENT = "sent"
    ALREADY_SENT_TODAY = "already_sent_today"
    ALREADY_AVAILABLE = "already_available"


def requested_today(user, now: dt.datetime | None = None) -> set[int]:
    """The ids of the connectors `user` has asked for today (in the site's time zone)."""
    if not user.is_authenticated:
        return set()
    today = timezone.localdate(now or timezone.now())
    return set(AccessRequest.objects.filter(requester=user, requested_on=today).values_list("connector", flat=True))


def request_access(connector: Connector, user, root: str, now: dt.datetime | None = None) -> RequestOutcome:
    """Record the request and notify the administrators, unless `user` asked today or needs nothing."""
    now = now or timezone.now()
    if status_of(connector, now).active:
        return RequestOutcome.ALREADY_AVAILABLE
    try:
        with transaction.atomic():
            AccessRequest.objects.create(
                requester=user, connector=connector, requested_on=timezone.localdate(now), created_at=now
            )
    except IntegrityError:
        return RequestOutcome.ALREADY_SENT_TODAY
    notify.access_requested(connector, user, root)
    return RequestOutcome.SENT
