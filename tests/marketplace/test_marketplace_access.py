"""A user's "Request access": the administrators hear of it in the app and by email, once per user and day
(the site's day), and the user is told it was sent. Then the notifications those produce."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from marketplace.models import AccessRequest, Notification
from tests.marketplace.helpers import DAY, HOUR, SENTENCE, T0, given, signed_in_at, text_of, tile

pytestmark = [pytest.mark.django_db, pytest.mark.no_entitlement, pytest.mark.usefixtures("fast_password_hashing")]
SENT = "Your request was sent to your administrators."
ALREADY = "Your request was already sent to your administrators today: they have it."


@pytest.fixture
def administrators(admin_user, org_admin):
    """A superuser and a member of the Organization administrators group; plus a plain user they ignore."""
    get_user_model().objects.create_user("bystander", "bystander@example.com")
    return [admin_user, org_admin]


def ask(user, moment, next_url="/connections/new/"):
    with signed_in_at(moment, user) as client:
        return client.post("/marketplace/dynamics-crm/request-access/", {"next": next_url}, follow=True)


def test_it_tells_the_user_it_was_sent_and_returns_to_the_page(user, dynamics_crm, administrators):
    response = ask(user, T0)
    assert response.redirect_chain == [("/connections/new/", 302)]
    page = text_of(response.content.decode())
    assert SENT in page
    assert SENTENCE in page  # back on the gate, still refused
    assert "You already asked your administrators today." in page


def test_it_notifies_every_administrator_in_the_app_and_by_email(user, dynamics_crm, administrators):
    ask(user, T0)
    told = Notification.objects.order_by("recipient__username")
    assert [n.recipient.username for n in told] == ["admin", "olga"]
    assert {n.text for n in told} == {"maria asks for the Premium Dynamics CRM connector: start a trial or subscribe."}
    assert {n.link for n in told} == {"/marketplace/#connector-dynamics-crm"}
    assert sorted(message.to[0] for message in mail.outbox) == ["admin@example.com", "olga@example.com"]
    email = mail.outbox[0]
    assert email.subject == "maria asks for the Premium Dynamics CRM connector"
    assert "maria (maria@example.com) asks for the Premium Dynamics CRM connector." in email.body
    assert "start its free trial (once, for 14 days) or subscribe" in email.body
    assert "http://testserver/marketplace/#connector-dynamics-crm" in email.body
    request = AccessRequest.objects.get()
    assert (request.requester, request.connector, request.requested_on) == (user, dynamics_crm, dt.date(2026, 3, 2))


def test_it_notifies_once_per_user_and_day_and_says_so_the_second_time(user, dynamics_crm, administrators):
    ask(user, T0)
    second = ask(user, T0 + 5 * HOUR)
    assert ALREADY in text_of(second.content.decode())
    assert AccessRequest.objects.count() == 1
    assert Notification.objects.count() == 2 and len(mail.outbox) == 2
    tomorrow = ask(user, T0 + DAY)
    assert SENT in text_of(tomorrow.content.decode())
    assert AccessRequest.objects.count() == 2 and len(mail.outbox) == 4


def test_the_day_is_the_site_time_zone_day(user, dynamics_crm, administrators, settings):
    settings.TIME_ZONE = "America/New_York"
    evening = dt.datetime(2026, 3, 3, 4, 30, tzinfo=dt.UTC)  # 23:30 on March 2nd in New York
    after_midnight = evening + HOUR  # 00:30 on March 3rd in New York, the same UTC day
    assert SENT in text_of(ask(user, evening).content.decode())
    assert SENT in text_of(ask(user, after_midnight).content.decode())
    days = sorted(AccessRequest.objects.values_list("requested_on", flat=True))
    assert days == [dt.date(2026, 3, 2), dt.date(2026, 3, 3)]


def test_each_user_may_ask_on_the_same_day(user, dynamics_crm, administrators):
    other = get_user_model().objects.create_user("noah", "noah@example.com")
    ask(user, T0)
    assert SENT in text_of(ask(other, T0 + HOUR).content.decode())
    assert AccessRequest.objects.count() == 2


def test_nothing_is_sent_when_the_connector_is_available(user, dynamics_crm, admin_user):
    moment = given("trial day 1", dynamics_crm, admin_user)
    response = ask(user, moment)
    assert "Dynamics CRM is available already: you can use it." in text_of(response.content.decode())
    assert not AccessRequest.objects.exists() and not mail.outbox


def test_an_administrator_is_told_to_act_instead_of_asking(org_admin, dynamics_crm):
    response = ask(org_admin, T0)
    assert "As an organization administrator you can start the trial or subscribe yourself." in text_of(
        response.content.decode()
    )
    assert not AccessRequest.objects.exists()


def test_it_ignores_an_offsite_next(user, dynamics_crm, administrators):
    response = ask(user, T0, next_url="https://evil.example.net/")
    assert response.redirect_chain[0] == ("/marketplace/#connector-dynamics-crm", 302)


def test_the_tile_shows_the_sentence_and_the_button_and_remembers_today(user, dynamics_crm, administrators):
    with signed_in_at(T0, user) as client:
        before = tile(client.get("/marketplace/").content.decode(), "dynamics-crm")
        client.post("/marketplace/dynamics-crm/request-access/")
        after = tile(client.get("/marketplace/").content.decode(), "dynamics-crm")
    assert SENTENCE in before and "Request access to Dynamics CRM" in before
    assert "START TRIAL" not in before and "SUBSCRIBE" not in before
    assert "Asked today" not in before and "Asked today" in after


def test_the_navigation_counts_unread_notifications(client, admin_user, user, dynamics_crm):
    ask(user, T0)
    client.force_login(admin_user)
    page = client.get("/connections/").content.decode()
    assert (
        'Notifications <span class="badge rounded-pill text-bg-warning">1<span class="visually-hidden"> unread' in page
    )


def test_the_notifications_page_lists_them_newest_first_and_marks_them_read(client, user, admin_user):
    older = Notification.objects.create(recipient=user, text="Older", link="/marketplace/", created=T0)
    newer = Notification.objects.create(recipient=user, text="Newer", link="/connections/new/", created=T0 + DAY)
    Notification.objects.create(recipient=admin_user, text="Not yours", created=T0)
    client.force_login(user)
    page = client.get("/marketplace/notifications/").content.decode()
    assert text_of(page).index("New Newer") < text_of(page).index("New Older")
    assert "Not yours" not in page
    assert '<a href="/connections/new/">Newer</a>' in page
    response = client.post(f"/marketplace/notifications/{newer.pk}/read/", {"next": "/marketplace/notifications/"})
    assert response["Location"] == "/marketplace/notifications/"
    assert list(Notification.objects.filter(recipient=user, read=False)) == [older]
    client.post("/marketplace/notifications/read/")
    assert not Notification.objects.filter(recipient=user, read=False).exists()
    assert Notification.objects.filter(recipient=admin_user, read=False).exists()
    assert "Notifications <span" not in client.get("/marketplace/notifications/").content.decode()


def test_a_user_cannot_mark_anothers_notification(client, user, admin_user):
    theirs = Notification.objects.create(recipient=admin_user, text="Theirs")
    client.force_login(user)
    assert client.post(f"/marketplace/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert not theirs.read


def test_a_notification_links_only_to_this_site(client, user):
    Notification.objects.create(recipient=user, text="Offsite", link="https://evil.example.net/")
    Notification.objects.create(recipient=user, text="Script", link="javascript:alert(1)")
    client.force_login(user)
    page = client.get("/marketplace/notifications/").content.decode()
    assert "evil.example.net" not in page and "javascript:" not in page


def test_the_notifications_page_says_when_there_are_none(client, user):
    client.force_login(user)
    assert "No notifications." in client.get("/marketplace/notifications/").content.decode()
