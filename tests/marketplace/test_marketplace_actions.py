"""What an organization administrator does in the marketplace: START TRIAL (once, ever; two at once end with
one), notify the users, SUBSCRIBE and UNSUBSCRIBE, each after a confirmation."""

import re
import smtplib
import threading

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection as db_connection
from django.db import connections

from marketplace import entitlements, notify
from marketplace.models import Notification, Subscription, Trial
from tests.marketplace.helpers import DAY, T0, given, signed_in_at, text_of

pytestmark = [pytest.mark.no_entitlement, pytest.mark.usefixtures("fast_password_hashing")]


@pytest.fixture
def colleagues(db):
    people = get_user_model().objects
    return [
        people.create_user("maria", "maria@example.com"),
        people.create_user("noah"),  # no email address: notified in the app only
        people.create_user("gone", "gone@example.com", is_active=False),
    ]


@pytest.mark.django_db
def test_the_confirmation_shows_the_connector_the_length_and_the_end_date(dynamics_crm, org_admin):
    with signed_in_at(T0, org_admin) as admin:
        page = text_of(admin.get("/marketplace/dynamics-crm/trial/").content.decode())
    assert "Start the Dynamics CRM trial?" in page
    assert "Connector Dynamics CRM Premium" in page
    assert "Length 14 days, free" in page
    assert "Starts 2026-03-02 09:00 UTC (now)" in page
    assert "Ends 2026-03-16 09:00 UTC" in page
    assert "A trial can be started only once for this organization" in page
    assert not Trial.objects.exists()


@pytest.mark.django_db
def test_starting_the_trial_records_it_and_offers_to_notify_the_users(dynamics_crm, org_admin, colleagues):
    with signed_in_at(T0, org_admin) as admin:
        response = admin.post("/marketplace/dynamics-crm/trial/", follow=True)
    trial = Trial.objects.get()
    assert (trial.connector, trial.started_by, trial.started_at, trial.ends_at) == (
        dynamics_crm,
        org_admin,
        T0,
        T0 + 14 * DAY,
    )
    assert response.redirect_chain == [("/marketplace/dynamics-crm/notify-users/", 302)]
    page = text_of(response.content.decode())
    assert "The Dynamics CRM trial started: it ends on 2026-03-16 09:00 UTC." in page
    assert "2 other users will get a notification in the app, and 1 of them an email, saying that you started" in page
    assert not Notification.objects.exists() and not mail.outbox


@pytest.mark.django_db
def test_notify_users_tells_each_active_user_in_the_app_and_by_email(dynamics_crm, org_admin, colleagues):
    maria, noah, gone = colleagues
    entitlements.start_trial(dynamics_crm, org_admin, now=T0)
    with signed_in_at(T0, org_admin) as admin:
        response = admin.post("/marketplace/dynamics-crm/notify-users/", follow=True)
    assert "Notified 2 users in the app and 1 by email." in text_of(response.content.decode())
    told = Notification.objects.order_by("recipient__username")
    assert [n.recipient for n in told] == [maria, noah]
    assert told[0].text == "Dynamics CRM is available: olga started its 14-day free trial (until 2026-03-16 09:00 UTC)."
    assert told[0].link == "/connections/new/" and not told[0].read
    assert [message.to for message in mail.outbox] == [["maria@example.com"]]
    assert mail.outbox[0].subject == "Dynamics CRM is available in Gathr"
    assert "Hello maria," in mail.outbox[0].body
    assert "http://testserver/connections/new/" in mail.outbox[0].body
    assert mail.outbox[0].from_email == "Gathr <gathr@localhost>"


@pytest.mark.django_db
def test_the_users_are_told_once_even_on_a_second_click(dynamics_crm, org_admin, colleagues):
    entitlements.start_trial(dynamics_crm, org_admin, now=T0)
    with signed_in_at(T0, org_admin) as admin:
        admin.post("/marketplace/dynamics-crm/notify-users/")
        second = admin.post("/marketplace/dynamics-crm/notify-users/", follow=True)
        offer = admin.get("/marketplace/dynamics-crm/notify-users/")
    assert "The users were already told that Dynamics CRM is available." in text_of(second.content.decode())
    assert offer.status_code == 302
    assert Notification.objects.count() == 2 and len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_mail_server_error_still_notifies_in_the_app_and_says_so(dynamics_crm, org_admin, colleagues, monkeypatch):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPConnectError(421, "try later")

    monkeypatch.setattr(notify, "send_mass_mail", refuse)
    entitlements.start_trial(dynamics_crm, org_admin, now=T0)
    with signed_in_at(T0, org_admin) as admin:
        response = admin.post("/marketplace/dynamics-crm/notify-users/", follow=True)
    assert "Notified 2 users in the app, but the email could not be sent: check EMAIL_URL" in text_of(
        response.content.decode()
    )
    assert Notification.objects.count() == 2


@pytest.mark.django_db
def test_a_trial_can_be_started_only_once_ever(dynamics_crm, org_admin):
    given("trial expired", dynamics_crm, org_admin)
    with signed_in_at(T0 + 30 * DAY, org_admin) as admin:
        confirm = admin.get("/marketplace/dynamics-crm/trial/", follow=True)
        again = admin.post("/marketplace/dynamics-crm/trial/", follow=True)
    expected = "The Dynamics CRM trial was already started on 2026-03-02 09:00 UTC: a trial can be started only once."
    assert expected in text_of(confirm.content.decode())
    assert expected in text_of(again.content.decode())
    assert again.redirect_chain == [("/marketplace/#connector-dynamics-crm", 302)]
    assert Trial.objects.count() == 1


@pytest.mark.django_db
def test_the_database_keeps_one_trial_when_the_check_is_raced_past(dynamics_crm, org_admin, monkeypatch):
    entitlements.start_trial(dynamics_crm, org_admin, now=T0)
    # As if another request had passed the check before this one's trial was saved.
    monkeypatch.setattr(entitlements, "check_can_start_trial", lambda status: None)
    with pytest.raises(entitlements.TrialAlreadyUsedError, match="already started on 2026-03-02 09:00 UTC"):
        entitlements.start_trial(dynamics_crm, org_admin, now=T0 + DAY)
    assert Trial.objects.count() == 1


def test_two_admins_starting_the_trial_at_once_end_with_exactly_one(
    transactional_db, dynamics_crm, org_admin, monkeypatch
):
    both_checked = threading.Barrier(2, timeout=10)
    real_check = entitlements.check_can_start_trial

    def check_then_wait(status):
        real_check(status)
        both_checked.wait()  # both requests have seen "no trial yet" before either saves one

    monkeypatch.setattr(entitlements, "check_can_start_trial", check_then_wait)
    outcomes = []

    def start():
        try:
            entitlements.start_trial(dynamics_crm, org_admin)
            outcomes.append("started")
        except entitlements.TrialAlreadyUsedError:
            outcomes.append("already used")
        except Exception as error:  # noqa: BLE001 - recorded for the assertion below
            outcomes.append(f"{type(error).__name__}: {error}")
        finally:
            db_connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Trial.objects.count() == 1
    if connections["default"].vendor == "sqlite":
        # The SQLite test database lives in shared-cache memory, where the loser's write fails at once
        # ("table is locked") instead of waiting for the winner's commit as a file database or PostgreSQL does.
        assert "started" in outcomes and len(outcomes) == 2, outcomes
    else:
        assert sorted(outcomes) == ["already used", "started"]


@pytest.mark.django_db
def test_subscribe_confirms_the_billing_day_and_records_the_start(dynamics_crm, org_admin):
    moment = T0 + 5 * DAY  # 2026-03-07
    with signed_in_at(moment, org_admin) as admin:
        confirm = text_of(admin.get("/marketplace/dynamics-crm/subscribe/").content.decode())
        done = admin.post("/marketplace/dynamics-crm/subscribe/", follow=True)
    assert "Subscribe to Dynamics CRM?" in confirm
    assert "Billing day Day 7 of every month; next: 2026-04-07" in confirm
    assert "No payment is taken in this application" in confirm
    subscription = Subscription.objects.get()
    assert (subscription.started_at, subscription.billing_day, subscription.started_by) == (moment, 7, org_admin)
    assert subscription.cancelled_at is None
    assert "Subscribed to Dynamics CRM from 2026-03-07 09:00 UTC, billed monthly on day 7." in text_of(
        done.content.decode()
    )
    assert done.redirect_chain == [("/marketplace/dynamics-crm/notify-users/", 302)]


@pytest.mark.django_db
def test_subscribing_during_the_trial_needs_no_new_notice(dynamics_crm, org_admin):
    given("trial day 1", dynamics_crm, org_admin)
    with signed_in_at(T0 + 3 * DAY, org_admin) as admin:
        confirm = text_of(admin.get("/marketplace/dynamics-crm/subscribe/").content.decode())
        done = admin.post("/marketplace/dynamics-crm/subscribe/", follow=True)
    assert "The subscription replaces the running free trial." in confirm
    assert done.redirect_chain == [("/marketplace/#connector-dynamics-crm", 302)]
    assert entitlements.status_of(dynamics_crm, now=T0 + 30 * DAY).state == "subscribed"


@pytest.mark.django_db
def test_subscribing_twice_is_refused(dynamics_crm, org_admin):
    entitlements.subscribe(dynamics_crm, org_admin, now=T0)
    with signed_in_at(T0 + DAY, org_admin) as admin:
        response = admin.post("/marketplace/dynamics-crm/subscribe/", follow=True)
    assert "Dynamics CRM is subscribed already." in text_of(response.content.decode())
    assert Subscription.objects.count() == 1


@pytest.mark.django_db
def test_unsubscribe_confirms_then_ends_the_subscription_at_once(dynamics_crm, org_admin):
    entitlements.subscribe(dynamics_crm, org_admin, now=T0)
    moment = T0 + 40 * DAY
    with signed_in_at(moment, org_admin) as admin:
        confirm = text_of(admin.get("/marketplace/dynamics-crm/unsubscribe/").content.decode())
        assert Subscription.objects.get().cancelled_at is None
        done = admin.post("/marketplace/dynamics-crm/unsubscribe/", follow=True)
        create = admin.get("/connections/new/")
    assert "Unsubscribe from Dynamics CRM?" in confirm
    assert "ends now" in confirm and "Saved Dynamics CRM connections are kept, but disabled" in confirm
    subscription = Subscription.objects.get()
    assert (subscription.cancelled_at, subscription.cancelled_by) == (moment, org_admin)
    assert "Unsubscribed from Dynamics CRM, effective now." in text_of(done.content.decode())
    assert create.status_code == 403


@pytest.mark.django_db
def test_unsubscribing_without_a_subscription_says_so(dynamics_crm, org_admin):
    with signed_in_at(T0, org_admin) as admin:
        response = admin.get("/marketplace/dynamics-crm/unsubscribe/", follow=True)
    assert "Dynamics CRM has no active subscription." in text_of(response.content.decode())


@pytest.mark.django_db
def test_the_tile_offers_the_actions_each_state_allows(dynamics_crm, org_admin):
    def actions(moment) -> list[str]:
        with signed_in_at(moment, org_admin) as admin:
            page = admin.get("/marketplace/").content.decode()
        tile = page.split('id="connector-dynamics-crm"')[1].split("</article>")[0]
        return [text_of(label) for label in re.findall(r"<(?:a|button)[^>]*>(.*?)</(?:a|button)>", tile)]

    assert actions(T0) == ["START TRIAL of Dynamics CRM", "SUBSCRIBE to Dynamics CRM"]
    entitlements.start_trial(dynamics_crm, org_admin, now=T0)
    assert actions(T0 + DAY) == ["New connection to Dynamics CRM", "SUBSCRIBE to Dynamics CRM", "Notify users"]
    assert actions(T0 + 15 * DAY) == ["SUBSCRIBE to Dynamics CRM"]
    entitlements.subscribe(dynamics_crm, org_admin, now=T0 + 16 * DAY)
    with time_machine.travel(T0 + 16 * DAY, tick=False):
        entitlements.claim_announcement(entitlements.status_of(dynamics_crm).subscription)
    assert actions(T0 + 17 * DAY) == ["New connection to Dynamics CRM", "UNSUBSCRIBE from Dynamics CRM"]
