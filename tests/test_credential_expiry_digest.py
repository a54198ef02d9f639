"""The daily digest of credentials that expire soon: to each owner theirs, to each administrator all; sent on a day
when a connection crossed into 30, 7, 1 days or expired, and only once however many workers run it."""

import datetime as dt
import re
import smtplib

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from connections import background, expiry, expiry_digest, tasks
from connections.models import Connection
from tests.test_concurrent_writes import at_once

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


def in_days(n: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=n)


@pytest.fixture
def expiring(make_connection, user):
    """Maria's secret ends in 5 days (Graph said so); the admin's certificate in 20 days; a third is fine."""
    maria = make_connection(name="Contoso Sales", owner=user)
    Connection.objects.filter(pk=maria.pk).update(
        credential_expires_at=in_days(5), credential_expiry_of="secret:abc", credential_expiry_read_at=in_days(0)
    )
    make_connection(
        name="Fabrikam Cert", client_secret="", credential_type="certificate", certificate_not_after=in_days(20)
    )
    make_connection(name="Northwind Fine", secret_expires_on=in_days(90).date())
    return maria


def sent_to() -> dict:
    return {message.to[0]: message for message in mail.outbox}


def test_owners_hear_of_theirs_and_administrators_of_all(expiring, user, admin_user, org_admin):
    assert expiry_digest.send_digest() == 3

    emails = sent_to()
    assert set(emails) == {user.email, admin_user.email, org_admin.email}
    mine = emails[user.email].body
    assert "Contoso Sales: expires on " in mine and "in 5 days" in mine and "Fabrikam Cert" not in mine
    assert "Add a new client secret (or certificate) under Certificates & secrets" in mine
    assert f"/connections/{expiring.pk}/" in mine
    everything = emails[admin_user.email].body
    assert everything.index("Contoso Sales") < everything.index("Fabrikam Cert")
    assert "Northwind Fine" not in everything
    html, kind = emails[admin_user.email].alternatives[0]
    assert kind == "text/html" and "<td>In 5 days</td>" in html and "Fabrikam Cert" in html


def test_it_is_sent_once_per_level(expiring):
    assert expiry_digest.send_digest() > 0
    mail.outbox.clear()

    assert expiry_digest.send_digest() == 0  # the next day: nobody crossed into a new level
    assert mail.outbox == []


def test_it_is_sent_again_when_a_connection_comes_within_a_nearer_level(expiring, admin_user):
    expiry_digest.send_digest()
    mail.outbox.clear()

    with time_machine.travel(in_days(4.5)):  # Contoso Sales: within 1 day
        assert expiry_digest.send_digest() > 0
    body = sent_to()[admin_user.email].body  # half a day left: today or tomorrow, by the time of day
    assert re.search(r"Contoso Sales: expires on \S+, (today|tomorrow)", body), body
    assert Connection.objects.get(pk=expiring.pk).expiry_warned_level == expiry.DAY


def test_an_expired_credential_is_said_expired(expiring, admin_user):
    expiry_digest.send_digest()
    mail.outbox.clear()
    with time_machine.travel(in_days(6)):
        expiry_digest.send_digest()
    body = sent_to()[admin_user.email].body
    assert "Contoso Sales: expired on " in body


def test_a_renewed_credential_is_warned_of_again_when_it_nears(expiring, admin_user):
    expiry_digest.send_digest()
    renewed = Connection.objects.get(pk=expiring.pk)
    renewed.credential_expires_at = in_days(400)  # a later date typed, or read, without a new secret
    renewed.save()
    expiry_digest.send_digest()
    assert Connection.objects.get(pk=expiring.pk).expiry_warned_level == expiry.FINE


def test_the_task_run_twice_sends_once(expiring):
    background.credential_expiry_digest.call_local()
    first = len(mail.outbox)
    background.credential_expiry_digest.call_local()
    assert first == 2 and len(mail.outbox) == first  # maria (owner) and the admin


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_it_once(make_connection, user):
    maria = make_connection(name="Contoso Sales", owner=user)
    Connection.objects.filter(pk=maria.pk).update(secret_expires_on=in_days(3).date())
    make_connection(name="Fabrikam Sales", owner=user, secret_expires_on=in_days(6).date())

    sent = at_once(4, lambda browser: expiry_digest.send_digest())

    assert sorted(sent) == [0, 0, 0, 2]
    assert len(mail.outbox) == 2


def test_the_worker_runs_it_every_morning():
    assert tasks.credential_expiry_digest is background.credential_expiry_digest
    assert background.credential_expiry_digest.s().validate_datetime(dt.datetime(2026, 12, 1, 7, 10))
    assert not background.credential_expiry_digest.s().validate_datetime(dt.datetime(2026, 12, 1, 8, 10))


def test_a_digest_the_mail_server_refused_is_sent_the_next_day(expiring, settings):
    working = settings.MAILERS
    settings.MAILERS = {"default": {"BACKEND": "tests.test_credential_expiry_digest.RefusingBackend"}}
    assert expiry_digest.send_digest() == 0
    assert Connection.objects.get(pk=expiring.pk).expiry_warned_level == expiry.FINE

    settings.MAILERS = working
    assert expiry_digest.send_digest() > 0


class RefusingBackend(BaseEmailBackend):
    """A mail server that hangs up."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
