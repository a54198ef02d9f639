"""Each state of the Premium Dynamics CRM connector, on the clock: what the marketplace shows and what the
connection pages allow. No entitlement, trial day 1, trial last day, trial expired, subscribed, unsubscribed,
and subscribed after expiry."""

import datetime as dt

import pytest
import time_machine

from marketplace import entitlements
from marketplace.catalogue import DYNAMICS_CRM
from marketplace.entitlements import next_billing_date
from tests.marketplace.helpers import DAY, STATES, T0, given, section, signed_in_at, text_of, tile

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.no_entitlement,
    pytest.mark.usefixtures("fast_password_hashing", "catalogue"),
]

TILE_BADGES = {
    "no entitlement": "Premium",
    "trial day 1": "Premium Trial · 14 days left",
    "trial last day": "Premium Trial · 1 day left",
    "trial expired": "Premium",
    "subscribed": "Premium Subscribed",
    "unsubscribed": "Premium",
    "subscribed after expiry": "Premium Subscribed",
}
TILE_STATE_LINES = {
    "no entitlement": "No trial or subscription yet.",
    "trial day 1": "Free trial until 2026-03-16 09:00 UTC.",
    "trial last day": "Free trial until 2026-03-16 09:00 UTC.",
    "trial expired": "The free trial ended on 2026-03-16 09:00 UTC.",
    "subscribed": "Subscribed since 2026-03-02, billed monthly on day 2.",
    "unsubscribed": "Subscription cancelled on 2026-03-12 09:00 UTC.",
    "subscribed after expiry": "Subscribed since 2026-03-22, billed monthly on day 22.",
}


@pytest.mark.parametrize("name", STATES)
def test_it_computes_each_state_at_its_moment(name, dynamics_crm, admin_user):
    _, state, days_left, active = STATES[name]
    moment = given(name, dynamics_crm, admin_user)
    status = entitlements.status_for(DYNAMICS_CRM, now=moment)
    assert (status.state, status.days_left, status.active) == (state, days_left, active)
    with time_machine.travel(moment, tick=False):
        assert entitlements.status_for(DYNAMICS_CRM).state == state


@pytest.mark.parametrize("name", STATES)
def test_the_marketplace_shows_each_state_on_the_tile_and_in_its_section(name, dynamics_crm, admin_user):
    moment = given(name, dynamics_crm, admin_user)
    with signed_in_at(moment, admin_user) as client:
        page = client.get("/marketplace/").content.decode()
    shown = tile(page, DYNAMICS_CRM)
    assert shown.startswith(TILE_BADGES[name] + " Dynamics CRM")
    assert TILE_STATE_LINES[name] in shown
    trials, subscribed = section(page, "trial-connectors"), section(page, "subscribed-connectors")
    on_trial, is_subscribed = STATES[name][1] == "trial", STATES[name][1] == "subscribed"
    assert ("Dynamics CRM" in trials) == on_trial
    assert ("Dynamics CRM" in subscribed) == is_subscribed
    if on_trial:
        assert f"Trial · {STATES[name][2]} day" in trials
        assert "Free trial until 2026-03-16 09:00 UTC" in trials
    if not (on_trial or is_subscribed):
        assert "No connector is on a free trial." in trials and "No connector is subscribed." in subscribed


@pytest.mark.parametrize("name", STATES)
def test_the_gate_follows_each_state(name, dynamics_crm, admin_user, make_connection):
    moment = given(name, dynamics_crm, admin_user)
    connection = make_connection(name="Contoso Sales")
    active = STATES[name][3]
    with signed_in_at(moment, admin_user) as client:
        create = client.get("/connections/new/")
        edit = client.get(f"/connections/{connection.pk}/edit/")
        listing = client.get("/connections/").content.decode()
        detail = client.get(f"/connections/{connection.pk}/").content.decode()
    assert (create.status_code, edit.status_code) == ((200, 200) if active else (403, 403))
    assert ('id="connection-form"' in create.content.decode()) == active
    # List and detail stay visible; an inactive connector disables TEST and Edit.
    assert ("Disabled" in text_of(listing)) == (not active)
    assert (f'href="/connections/{connection.pk}/edit/"' in listing) == active
    assert (f'action="/connections/{connection.pk}/test/"' in detail) == active
    assert f'href="/connections/{connection.pk}/delete/"' in detail


def test_the_trial_lasts_14_days_to_the_minute(dynamics_crm, admin_user):
    trial = entitlements.start_trial(dynamics_crm, admin_user, now=T0)
    assert trial.ends_at - trial.started_at == dt.timedelta(days=14)
    days_left = [
        entitlements.status_of(dynamics_crm, now=T0 + offset).days_left
        for offset in (dt.timedelta(0), DAY, 7 * DAY, 13 * DAY, 14 * DAY - dt.timedelta(seconds=1))
    ]
    assert days_left == [14, 13, 7, 1, 1]
    assert entitlements.status_of(dynamics_crm, now=T0 + 14 * DAY).state == "trial_expired"


def test_a_subscription_replaces_a_running_trial_and_unsubscribing_ends_it_at_once(dynamics_crm, admin_user):
    entitlements.start_trial(dynamics_crm, admin_user, now=T0)
    entitlements.subscribe(dynamics_crm, admin_user, now=T0 + 3 * DAY)
    entitlements.unsubscribe(dynamics_crm, admin_user, now=T0 + 5 * DAY)
    status = entitlements.status_of(dynamics_crm, now=T0 + 5 * DAY)
    assert (status.state, status.active) == ("unsubscribed", False)


def test_history_is_read_at_the_moment_asked(dynamics_crm, admin_user):
    entitlements.subscribe(dynamics_crm, admin_user, now=T0)
    entitlements.unsubscribe(dynamics_crm, admin_user, now=T0 + 10 * DAY)
    states = [entitlements.status_of(dynamics_crm, now=T0 + offset).state for offset in (-DAY, DAY, 11 * DAY)]
    assert states == ["none", "subscribed", "unsubscribed"]


@pytest.mark.parametrize(
    ("billing_day", "after", "expected"),
    [
        (2, dt.date(2026, 3, 2), dt.date(2026, 4, 2)),
        (2, dt.date(2026, 3, 1), dt.date(2026, 3, 2)),
        (31, dt.date(2026, 1, 31), dt.date(2026, 2, 28)),
        (31, dt.date(2028, 1, 31), dt.date(2028, 2, 29)),
        (30, dt.date(2026, 2, 28), dt.date(2026, 3, 30)),
        (15, dt.date(2026, 12, 20), dt.date(2027, 1, 15)),
    ],
)
def test_it_bills_on_the_billing_day_or_the_last_day_of_a_shorter_month(billing_day, after, expected):
    assert next_billing_date(billing_day, after) == expected


def test_the_billing_day_is_the_subscription_day_in_the_site_time_zone(dynamics_crm, admin_user, settings):
    settings.TIME_ZONE = "America/New_York"
    # 02:00 UTC on the 3rd is still the 2nd in New York.
    subscription = entitlements.subscribe(dynamics_crm, admin_user, now=dt.datetime(2026, 3, 3, 2, tzinfo=dt.UTC))
    assert subscription.billing_day == 2


def test_standard_connectors_are_free_for_everyone_with_no_trial_or_subscription(admin_user):
    status = entitlements.status_for("amazon-s3")
    assert (status.state, status.active, status.can_start_trial, status.can_subscribe) == (
        "standard",
        True,
        False,
        False,
    )
    with pytest.raises(entitlements.EntitlementError, match="Standard connector: it is free for everyone"):
        entitlements.start_trial(status.connector, admin_user)
    with pytest.raises(entitlements.EntitlementError, match="Standard connector"):
        entitlements.subscribe(status.connector, admin_user)
