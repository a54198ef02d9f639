"""Histories of the Premium Dynamics CRM connector, each seen at a moment, for the marketplace tests.

Each state is built through the same functions the pages call, at fixed times; the tests then move the
clock to the moment with time-machine (never sleep).
"""

import datetime as dt
import html
import re
from contextlib import contextmanager

import time_machine
from django.test import Client

from marketplace import entitlements

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
SENTENCE = "Please request your administrator to start a trial or subscribe to the Premium Dynamics CRM connector."


def _none(connector, admin) -> dt.datetime:
    return T0


def _trial_day_1(connector, admin) -> dt.datetime:
    entitlements.start_trial(connector, admin, now=T0)
    return T0 + 2 * HOUR


def _trial_last_day(connector, admin) -> dt.datetime:
    entitlements.start_trial(connector, admin, now=T0)
    return T0 + 13 * DAY + 20 * HOUR


def _trial_expired(connector, admin) -> dt.datetime:
    entitlements.start_trial(connector, admin, now=T0)
    return T0 + 14 * DAY + dt.timedelta(minutes=1)


def _subscribed(connector, admin) -> dt.datetime:
    entitlements.subscribe(connector, admin, now=T0)
    return T0 + 40 * DAY


def _unsubscribed(connector, admin) -> dt.datetime:
    entitlements.subscribe(connector, admin, now=T0)
    entitlements.unsubscribe(connector, admin, now=T0 + 10 * DAY)
    return T0 + 10 * DAY + HOUR


def _subscribed_after_expiry(connector, admin) -> dt.datetime:
    entitlements.start_trial(connector, admin, now=T0)
    entitlements.subscribe(connector, admin, now=T0 + 20 * DAY)
    return T0 + 21 * DAY


# name: (build the history and return the moment to look at, state, days left, active)
STATES = {
    "no entitlement": (_none, "none", None, False),
    "trial day 1": (_trial_day_1, "trial", 14, True),
    "trial last day": (_trial_last_day, "trial", 1, True),
    "trial expired": (_trial_expired, "trial_expired", None, False),
    "subscribed": (_subscribed, "subscribed", None, True),
    "unsubscribed": (_unsubscribed, "unsubscribed", None, False),
    "subscribed after expiry": (_subscribed_after_expiry, "subscribed", None, True),
}


def given(name: str, connector, admin) -> dt.datetime:
    """Build the named history; return the moment at which to look at it."""
    return STATES[name][0](connector, admin)


@contextmanager
def signed_in_at(moment: dt.datetime, user):
    """A client signed in as `user` while the clock shows `moment` (signing in first: sessions expire)."""
    with time_machine.travel(moment, tick=False):
        client = Client()
        if user is not None:
            client.force_login(user)
        yield client


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def tile(page: str, slug: str) -> str:
    """The text of the connector's tile on the marketplace page."""
    found = re.search(rf'<article[^>]*id="connector-{slug}".*?</article>', page, re.S)
    return text_of(found.group(0)) if found else ""


def section(page: str, heading_id: str) -> str:
    found = re.search(rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', page, re.S)
    return text_of(found.group(0)) if found else ""
