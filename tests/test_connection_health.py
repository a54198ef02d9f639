"""A connection is Up, Down or Unknown; each change of state tells its owner and the administrators once."""

import smtplib

import pytest
from django.core import mail

from connections import background, health, testing
from connections.dynamics import check
from connections.models import Connection, Health
from connections.runs import RunSource, TestRun
from marketplace import notify
from marketplace.models import Notification
from tests.helpers import TEST_SECRET
from tests.test_concurrent_writes import at_once
from tests.test_first_test_on_create import create, form_tested

TOGETHER = 8  # TESTs of one connection that end at the same moment
HINT = "Create a new client secret in Microsoft Entra ID and enter it here."


def failed() -> check.CheckResult:
    return check.not_run("invalid_client", "Entra ID refused the client secret.", HINT)


def passed() -> check.CheckResult:
    return check.CheckResult(ok=True, steps=[])


@pytest.fixture
def connection(make_connection, user):
    return make_connection(name="Contoso Sales", owner=user)


@pytest.fixture
def record(connection, django_capture_on_commit_callbacks):
    """Record a TEST's result as the worker does, and run what waits for the commit (the alerts)."""

    def record_one(result, target=None):
        with django_capture_on_commit_callbacks(execute=True):
            return (target or Connection.objects.get(pk=connection.pk)).record_test(result)

    return record_one


def state_of(connection) -> tuple[str, int]:
    connection.refresh_from_db()
    return connection.health, connection.failures_in_a_row


def test_a_new_connection_is_unknown(connection):
    assert state_of(connection) == (Health.UNKNOWN, 0)


def test_it_stays_up_after_one_failed_test(connection, record, admin_user, org_admin):
    record(passed())
    Notification.objects.all().delete()
    mail.outbox.clear()

    record(failed())

    assert state_of(connection) == (Health.UP, 1)
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_it_goes_down_after_two_failures_in_a_row_telling_each_recipient_once(
    connection, record, user, admin_user, org_admin
):
    record(passed())
    Notification.objects.all().delete()
    mail.outbox.clear()

    record(failed())
    record(failed())

    assert state_of(connection) == (Health.DOWN, 2)
    told = sorted(Notification.objects.values_list("recipient__username", flat=True))
    assert told == sorted([user.username, admin_user.username, org_admin.username])
    assert sorted(address for message in mail.outbox for address in message.to) == sorted(
        [user.email, admin_user.email, org_admin.email]
    )
    assert all(message.subject == "Connection Contoso Sales is down" for message in mail.outbox)


def test_a_third_failure_tells_nobody(connection, record, admin_user):
    record(passed())
    record(failed())
    record(failed())
    notified, emailed = Notification.objects.count(), len(mail.outbox)

    record(failed())

    assert state_of(connection) == (Health.DOWN, 3)
    assert (Notification.objects.count(), len(mail.outbox)) == (notified, emailed)


def test_one_good_test_brings_it_up_again_with_one_notification_each(connection, record, user, admin_user):
    record(failed())
    record(failed())
    Notification.objects.all().delete()
    mail.outbox.clear()

    record(passed())

    assert state_of(connection) == (Health.UP, 0)
    assert sorted(Notification.objects.values_list("recipient", flat=True)) == sorted([user.pk, admin_user.pk])
    assert Notification.objects.first().text == "Contoso Sales is up again: its TEST passed."
    assert len(mail.outbox) == 2
    assert all(message.subject == "Connection Contoso Sales is up" for message in mail.outbox)


def test_its_first_good_test_makes_it_up_and_says_so(connection, record, user):
    record(passed())

    assert state_of(connection) == (Health.UP, 0)
    assert Notification.objects.get(recipient=user).text == "Contoso Sales is up: its TEST passed."


def test_a_connection_that_never_worked_is_down_after_two_failures(connection, record, user):
    record(failed())
    assert state_of(connection) == (Health.UNKNOWN, 1)
    assert not Notification.objects.exists()

    record(failed())

    assert state_of(connection) == (Health.DOWN, 2)
    assert Notification.objects.filter(recipient=user).count() == 1


def test_it_counts_the_failures_the_setting_asks_for(connection, record, settings):
    settings.HEALTH_DOWN_AFTER = 3
    record(passed())
    record(failed())
    record(failed())
    assert state_of(connection) == (Health.UP, 2)

    record(failed())

    assert state_of(connection) == (Health.DOWN, 3)


def test_the_texts_name_the_connection_the_failing_step_and_the_hint_and_no_secret(connection, record, user, settings):
    settings.SITE_URL = "https://gathr.example.com"
    record(passed())
    mail.outbox.clear()
    failure = failed()
    step = next(step.label for step in failure.steps if step.key == failure.step)

    record(failure)
    record(failed())

    notification = Notification.objects.filter(recipient=user).first()
    assert notification.text == (f"Contoso Sales is down: 2 TESTs in a row failed at “{step}”. What to fix: {HINT}")
    assert notification.link == f"/connections/{connection.pk}/"
    body = next(message.body for message in mail.outbox if message.to == [user.email])
    assert "Contoso Sales is down" in body and step in body and HINT in body
    assert "Entra ID refused the client secret." in body
    assert f"https://gathr.example.com/connections/{connection.pk}/" in body
    for text in (notification.text, body, *(message.subject for message in mail.outbox)):
        assert TEST_SECRET not in text
        assert connection.client_secret_encrypted not in text


def test_a_stale_copy_does_not_announce_the_change_twice(connection, record, user):
    record(passed())
    record(failed())
    Notification.objects.all().delete()
    first, second = Connection.objects.get(pk=connection.pk), Connection.objects.get(pk=connection.pk)

    changes = [record(failed(), first), record(failed(), second)]

    assert [change.changed for change in changes] == [True, False]
    assert state_of(connection) == (Health.DOWN, 3)
    assert Notification.objects.filter(recipient=user).count() == 1


@pytest.mark.django_db(transaction=True)
def test_tests_that_end_at_once_announce_the_change_once(connection, user, admin_user):
    Connection.objects.filter(pk=connection.pk).update(health=Health.UP, failures_in_a_row=1)
    copies = iter([Connection.objects.get(pk=connection.pk) for _ in range(TOGETHER)])

    changes = at_once(TOGETHER, lambda browser: next(copies).record_test(failed()))

    assert sum(change.changed for change in changes) == 1
    assert state_of(connection) == (Health.DOWN, 1 + TOGETHER)
    assert Notification.objects.filter(recipient=user).count() == 1
    assert sorted(address for message in mail.outbox for address in message.to) == [admin_user.email, user.email]


def test_saving_an_object_that_recorded_a_test_never_puts_back_an_older_state(connection, record):
    first = Connection.objects.get(pk=connection.pk)
    record(failed(), first)
    record(failed())  # through another copy: Down

    first.name = "Contoso Sales EU"
    first.save()

    assert state_of(connection) == (Health.DOWN, 2)


def test_a_rolled_back_test_tells_nobody(connection, user, django_capture_on_commit_callbacks):
    from django.db import transaction

    class RolledBackError(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RolledBackError):
        with transaction.atomic():
            Connection.objects.get(pk=connection.pk).record_test(passed())
            raise RolledBackError

    assert state_of(connection) == (Health.UNKNOWN, 0)
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_an_email_that_cannot_be_sent_is_logged_and_the_test_is_recorded(connection, record, monkeypatch, all_logs):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(notify, "send_mass_mail", refuse)

    record(passed())

    assert state_of(connection) == (Health.UP, 0)
    assert Notification.objects.exists()
    assert any(record.getMessage().startswith("Could not send") for record in all_logs)


def test_the_list_s_tests_count_and_the_edit_form_s_do_not(connection, user, django_capture_on_commit_callbacks):
    """Without the simulator every TEST fails (no name resolves): two of the saved settings make it Down."""
    with django_capture_on_commit_callbacks(execute=True):
        background.start_unsaved(connection, user, {}, secret=TEST_SECRET)
        background.start_unsaved(connection, user, {}, secret=TEST_SECRET)
    assert state_of(connection) == (Health.UNKNOWN, 0)
    assert TestRun.objects.filter(source=RunSource.FORM, connection=connection).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        background.start_saved(connection, user, RunSource.LIST)
        background.start_saved(connection, user, RunSource.PAGE)

    assert state_of(connection) == (Health.DOWN, 2)
    assert Notification.objects.filter(recipient=user).count() == 1


def test_the_command_line_s_tests_count(connection, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        testing.test_saved(connection)
        testing.test_saved(connection)

    assert state_of(connection) == (Health.DOWN, 2)
    assert Notification.objects.filter(recipient=user).count() == 1


def test_the_new_connection_form_s_test_that_create_adopts_counts(
    admin_client, admin_user, microsoft, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        form_tested(admin_client, microsoft)
        created = create(admin_client, microsoft)

    assert state_of(created) == (Health.UP, 0)
    assert Notification.objects.get(recipient=admin_user).text == "Contoso Sales is up: its TEST passed."


@pytest.mark.parametrize(
    ("before", "failures", "ok", "after"),
    [
        (health.UNKNOWN, 0, True, (health.UP, 0)),
        (health.UNKNOWN, 0, False, (health.UNKNOWN, 1)),
        (health.UNKNOWN, 1, False, (health.DOWN, 2)),
        (health.UP, 0, False, (health.UP, 1)),
        (health.UP, 1, False, (health.DOWN, 2)),
        (health.DOWN, 2, False, (health.DOWN, 3)),
        (health.DOWN, 5, True, (health.UP, 0)),
    ],
)
def test_the_state_after_a_test(before, failures, ok, after):
    change = health.after_test(before, failures, ok=ok, down_after=2)
    assert (change.health, change.failures_in_a_row) == after
    assert change.changed == (after[0] != before)
