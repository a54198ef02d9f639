"""What an organization may use: each connector's state at a given time, and the admin's three actions.

A state is computed from the history (trial and subscriptions) at a moment, so moving the clock is enough to
see a trial's last day or its end: nothing needs a scheduler to expire.
"""

import calendar
import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum

from django.core.cache import caches
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import dateformat, timezone

from marketplace.models import Connector, Subscription, Trial

TRIAL_DAYS = 14
DAY = dt.timedelta(days=1)


class State(StrEnum):
    STANDARD = "standard"
    NONE = "none"
    TRIAL = "trial"
    TRIAL_EXPIRED = "trial_expired"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"


ACTIVE_STATES = frozenset({State.STANDARD, State.TRIAL, State.SUBSCRIBED})


class EntitlementError(Exception):
    """An action the connector's state does not allow; the message is for the admin."""


class TrialAlreadyUsedError(EntitlementError):
    pass


class AlreadySubscribedError(EntitlementError):
    pass


class NotSubscribedError(EntitlementError):
    pass


@dataclass(frozen=True)
class ConnectorStatus:
    connector: Connector
    state: State
    now: dt.datetime
    trial: Trial | None = None
    # The active subscription, else the latest cancelled one.
    subscription: Subscription | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def days_left(self) -> int | None:
        if self.state != State.TRIAL:
            return None
        return math.ceil((self.trial.ends_at - self.now) / DAY)

    @property
    def can_start_trial(self) -> bool:
        return self.connector.is_premium and self.trial is None and self.state != State.SUBSCRIBED

    @property
    def can_subscribe(self) -> bool:
        return self.connector.is_premium and self.state != State.SUBSCRIBED

    @property
    def can_unsubscribe(self) -> bool:
        return self.state == State.SUBSCRIBED

    @property
    def needs_announcement(self) -> bool:
        return unannounced(self) is not None

    @property
    def next_billing_date(self) -> dt.date | None:
        if self.state != State.SUBSCRIBED:
            return None
        return next_billing_date(self.subscription.billing_day, timezone.localdate(self.now))


def status_of(connector: Connector, now: dt.datetime | None = None) -> ConnectorStatus:
    """The connector's state at `now` (default: the current time)."""
    now = now or timezone.now()
    try:
        trial = connector.trial
    except Trial.DoesNotExist:
        trial = None
    subscriptions = list(connector.subscriptions.all())
    return _status(connector, trial, subscriptions, now)


def status_for(slug: str, now: dt.datetime | None = None) -> ConnectorStatus | None:
    """The state of the connector `slug`; None when the catalogue has no such connector."""
    connector = _with_history(Connector.objects.filter(slug=slug)).first()
    return status_of(connector, now) if connector else None


def shown_status(slug: str) -> ConnectorStatus | None:
    """The state of `slug` as a page shows it: its history is read at most once a second per process (the two
    queries cost more than the rest of the Connections page's database work). Actions use `status_for`."""
    key = f"connector-history:{slug}"
    connector = caches["process"].get(key)
    if connector is None:
        connector = _with_history(Connector.objects.filter(slug=slug)).first() or False
        caches["process"].set(key, connector)
    return status_of(connector) if connector else None


def forget_shown_status(**kwargs) -> None:
    """A connector, trial or subscription changed: this process's pages show it from now on (the others within
    the second)."""
    caches["process"].clear()
    # Again once the change is committed: a page of this process may have read the old state meanwhile.
    transaction.on_commit(caches["process"].clear)


def catalogue(now: dt.datetime | None = None) -> list[ConnectorStatus]:
    """Every connector of the catalogue with its state, in three queries."""
    now = now or timezone.now()
    return [status_of(connector, now) for connector in _with_history(Connector.objects.all())]


def _with_history(connectors):
    ordered = Subscription.objects.order_by("-started_at", "-pk")
    return connectors.select_related("trial").prefetch_related(Prefetch("subscriptions", queryset=ordered))


def _status(connector, trial, subscriptions, now) -> ConnectorStatus:
    if not connector.is_premium:
        return ConnectorStatus(connector, State.STANDARD, now)
    # Only what had happened by `now` counts.
    trial = trial if trial and trial.started_at <= now else None
    started = [sub for sub in subscriptions if sub.started_at <= now]
    active = next((sub for sub in started if sub.cancelled_at is None or sub.cancelled_at > now), None)
    if active:
        return ConnectorStatus(connector, State.SUBSCRIBED, now, trial, active)
    latest = started[0] if started else None
    # A subscription replaces a running trial; a trial started after a cancelled subscription runs again.
    if trial and (latest is None or trial.started_at > latest.started_at):
        state = State.TRIAL if now < trial.ends_at else State.TRIAL_EXPIRED
        return ConnectorStatus(connector, state, now, trial, latest)
    if latest:
        return ConnectorStatus(connector, State.UNSUBSCRIBED, now, trial, latest)
    return ConnectorStatus(connector, State.NONE, now, trial)


def next_billing_date(billing_day: int, after: dt.date) -> dt.date:
    """The first billing day strictly after `after`; shorter months bill on their last day."""
    year, month = after.year, after.month
    while True:
        day = min(billing_day, calendar.monthrange(year, month)[1])
        candidate = dt.date(year, month, day)
        if candidate > after:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def trial_end(start: dt.datetime) -> dt.datetime:
    return start + TRIAL_DAYS * DAY


def billing_day_of(start: dt.datetime) -> int:
    return timezone.localdate(start).day


def when(moment: dt.datetime) -> str:
    """A moment as the pages show it, in the site's time zone."""
    return dateformat.format(timezone.localtime(moment), "Y-m-d H:i T")


def check_can_start_trial(status: ConnectorStatus) -> None:
    connector = status.connector
    if not connector.is_premium:
        raise EntitlementError(f"{connector.name} is a Standard connector: it is free for everyone.")
    if status.state == State.SUBSCRIBED:
        raise AlreadySubscribedError(f"{connector.name} is subscribed already: no trial is needed.")
    if status.trial is not None:
        raise _trial_used(connector, status.trial)


def check_can_subscribe(status: ConnectorStatus) -> None:
    connector = status.connector
    if not connector.is_premium:
        raise EntitlementError(f"{connector.name} is a Standard connector: it is free for everyone.")
    if status.state == State.SUBSCRIBED:
        raise AlreadySubscribedError(f"{connector.name} is subscribed already.")


def check_can_unsubscribe(status: ConnectorStatus) -> None:
    if status.state != State.SUBSCRIBED:
        raise NotSubscribedError(f"{status.connector.name} has no active subscription.")


def start_trial(connector: Connector, user, now: dt.datetime | None = None) -> Trial:
    """Start the connector's one free trial; two admins racing end with one trial."""
    now = now or timezone.now()
    check_can_start_trial(status_of(connector, now))
    try:
        with transaction.atomic():
            return Trial.objects.create(connector=connector, started_at=now, ends_at=trial_end(now), started_by=user)
    except IntegrityError:
        raise _trial_used(connector, Trial.objects.get(connector=connector)) from None


def _trial_used(connector: Connector, trial: Trial) -> TrialAlreadyUsedError:
    return TrialAlreadyUsedError(
        f"The {connector.name} trial was already started on {when(trial.started_at)}: a trial can be started only once."
    )


def subscribe(connector: Connector, user, now: dt.datetime | None = None) -> Subscription:
    """Record a monthly subscription from `now`, billed on this day of every month."""
    now = now or timezone.now()
    check_can_subscribe(status_of(connector, now))
    try:
        with transaction.atomic():
            return Subscription.objects.create(
                connector=connector, started_at=now, billing_day=billing_day_of(now), started_by=user
            )
    except IntegrityError:
        raise AlreadySubscribedError(f"{connector.name} is subscribed already.") from None


def unsubscribe(connector: Connector, user, now: dt.datetime | None = None) -> Subscription:
    """Cancel the active subscription, effective at once."""
    now = now or timezone.now()
    with transaction.atomic():
        active = (
            Subscription.objects.select_for_update()
            .filter(connector=connector, cancelled_at__isnull=True, started_at__lte=now)
            .first()
        )
        if active is None:
            raise NotSubscribedError(f"{connector.name} has no active subscription.")
        active.cancelled_at = now
        active.cancelled_by = user
        active.save(update_fields=["cancelled_at", "cancelled_by"])
    return active


def unannounced(status: ConnectorStatus) -> Trial | Subscription | None:
    """The running trial or subscription whose users have not been told yet, if any."""
    current = {State.TRIAL: status.trial, State.SUBSCRIBED: status.subscription}.get(status.state)
    return current if current is not None and current.users_notified_at is None else None


def claim_announcement(entitlement: Trial | Subscription, now: dt.datetime | None = None) -> bool:
    """Mark the users as told; False when another request did it first (a double click tells them once)."""
    claimed = type(entitlement).objects.filter(pk=entitlement.pk, users_notified_at__isnull=True)
    return claimed.update(users_notified_at=now or timezone.now()) == 1
