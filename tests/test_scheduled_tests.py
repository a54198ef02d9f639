"""Scheduled re-tests: every saved connection once per interval, with jitter, within a bound, never without the
Premium connector, and put back when Dataverse's service protection says so (tests/test_scheduled_workers.py runs
the schedule on two real workers)."""

import re
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.utils import timezone

from connections import schedule
from connections.background import scheduled_tests, start_scheduled
from connections.models import Connection, Health
from connections.queueing import QueueUnavailableError
from connections.runs import RunSource, RunState, TestRun
from tests.test_connection_list import text_of
from tests.test_connection_test import good

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
HOUR = timedelta(hours=1)


def due(connection, ago=timedelta(minutes=1)) -> Connection:
    Connection.objects.filter(pk=connection.pk).update(next_test_at=timezone.now() - ago)
    return Connection.objects.get(pk=connection.pk)


def scheduled_runs(connection=None):
    runs = TestRun.objects.filter(source=RunSource.SCHEDULE)
    return runs.filter(connection=connection) if connection else runs


def test_a_due_connection_is_tested_once_and_its_next_test_is_an_interval_away(make_connection, microsoft, settings):
    settings.SCHEDULED_TEST_JITTER = 10
    connection = due(make_connection(**good(microsoft)))
    before = timezone.now()

    scheduled_tests.call_local()
    scheduled_tests.call_local()  # a second worker's minute: nothing more is due

    run = scheduled_runs(connection).get()
    assert run.state == RunState.FINISHED and run.result["ok"] is True and run.started_by is None
    connection.refresh_from_db()
    assert connection.health == Health.UP and connection.last_tested_at is not None
    assert before + 0.9 * HOUR <= connection.next_test_at <= timezone.now() + 1.1 * HOUR


def test_the_jitter_spreads_the_next_tests_within_its_share_of_the_interval(settings):
    settings.SCHEDULED_TEST_JITTER = 10
    now = timezone.now()
    times = [schedule.next_after(now) - now for _ in range(200)]

    assert min(times) >= 0.9 * HOUR and max(times) <= 1.1 * HOUR
    assert max(times) - min(times) > 0.1 * HOUR  # not all in step


def test_a_new_connection_joins_at_a_random_time_of_the_next_interval_without_a_test_at_once(make_connection):
    connections = [make_connection(name=f"New {n}") for n in range(20)]

    scheduled_tests.call_local()

    assert not scheduled_runs().exists()
    times = sorted(Connection.objects.filter(pk__in=[c.pk for c in connections]).values_list("next_test_at", flat=True))
    now = timezone.now()
    assert now - timedelta(seconds=5) <= times[0] and times[-1] <= now + HOUR
    assert times[-1] - times[0] > timedelta(minutes=10)


@pytest.mark.no_entitlement
def test_nothing_is_tested_without_a_trial_or_subscription(make_connection, microsoft, dynamics_crm):
    connection = due(make_connection(**good(microsoft)))
    was_due = connection.next_test_at

    scheduled_tests.call_local()

    assert not scheduled_runs().exists()
    assert Connection.objects.get(pk=connection.pk).next_test_at == was_due  # still due once the gate opens


def test_a_schedule_of_zero_minutes_tests_nothing(make_connection, microsoft, settings):
    settings.SCHEDULED_TEST_INTERVAL = 0
    due(make_connection(**good(microsoft)))

    scheduled_tests.call_local()

    assert not scheduled_runs().exists()


def hold_slots(connection, *slots: int) -> None:
    """Scheduled TESTs still queued (a worker has not taken them): they hold their slots."""
    for slot in slots:
        now = timezone.now()
        TestRun.objects.create(
            connection=connection,
            source=RunSource.SCHEDULE,
            lock_key=f"held:{slot}",
            slot=slot,
            crm_version=connection.crm_version,
            auth_scheme=connection.auth_scheme,
            deadline=now + timedelta(seconds=30),
        )


def test_no_more_scheduled_tests_run_at_once_than_the_setting_allows(make_connection, microsoft, settings):
    settings.SCHEDULED_TEST_CONCURRENCY = 3
    holder = make_connection(name="Holder")
    waiting = [due(make_connection(**good(microsoft), name=f"Due {n}")) for n in range(4)]
    hold_slots(holder, 0, 1, 2)

    scheduled_tests.call_local()

    assert not scheduled_runs().filter(connection__in=waiting).exists()  # every slot is held
    assert all(c.next_test_at <= timezone.now() for c in Connection.objects.filter(pk__in=[w.pk for w in waiting]))

    TestRun.objects.filter(lock_key="held:1").update(state=RunState.FINISHED)
    scheduled_tests.call_local()

    assert scheduled_runs().filter(connection__in=waiting).count() == 4  # one slot, used again as each TEST ends
    assert set(scheduled_runs().filter(connection__in=waiting).values_list("slot", flat=True)) == {1}


def test_a_connection_already_being_tested_is_not_tested_twice(make_connection, microsoft, admin_user):
    connection = due(make_connection(**good(microsoft)))
    now = timezone.now()
    TestRun.objects.create(  # someone's TEST of it, still running
        connection=connection,
        started_by=admin_user,
        source=RunSource.PAGE,
        state=RunState.RUNNING,
        lock_key=f"connection:{connection.pk}",
        crm_version=connection.crm_version,
        auth_scheme=connection.auth_scheme,
        deadline=now + timedelta(seconds=30),
    )

    scheduled_tests.call_local()

    assert not scheduled_runs(connection).exists()
    assert Connection.objects.get(pk=connection.pk).next_test_at > now + 0.8 * HOUR  # that TEST is this interval's


def test_a_slot_another_worker_took_first_leaves_the_connection_due(make_connection, microsoft, settings):
    settings.SCHEDULED_TEST_CONCURRENCY = 1
    connection = due(make_connection(**good(microsoft)))
    holder = make_connection(name="Holder")

    def late(candidate, slot):  # another worker's dispatch filled the slot after this one counted it free
        hold_slots(holder, slot)
        return start_scheduled(candidate, slot)

    started = schedule.dispatch(late)

    assert started == 0 and not scheduled_runs(connection).exists()
    assert Connection.objects.get(pk=connection.pk).next_test_at <= timezone.now()


def test_a_429_puts_the_connection_s_schedule_back_by_at_least_its_retry_after(make_connection, microsoft, settings):
    settings.SCHEDULED_TEST_INTERVAL = 1  # a minute: the Retry-After is longer
    microsoft.sim.set_service_protection(microsoft.env.url, requests=10, remaining_requests=0, retry_after=900)
    connection = due(make_connection(**good(microsoft)))
    before = timezone.now()

    scheduled_tests.call_local()

    run = scheduled_runs(connection).get()
    assert run.result["ok"] is False and run.result["code"] == "throttled"
    assert run.result["details"]["dataverse_code"] == "0x80072322"
    connection.refresh_from_db()
    assert connection.next_test_at >= before + timedelta(seconds=900)
    assert connection.service_protection["retry_after"] == 900


def test_a_low_budget_makes_the_next_scheduled_test_wait_a_window(make_connection, microsoft, settings):
    settings.SCHEDULED_TEST_INTERVAL = 1
    settings.SERVICE_PROTECTION_RESERVE = 20
    microsoft.sim.set_service_protection(microsoft.env.url, remaining_requests=500)  # of 6,000: 8% left
    connection = due(make_connection(**good(microsoft)))
    before = timezone.now()

    scheduled_tests.call_local()

    assert scheduled_runs(connection).get().result["ok"] is True
    connection.refresh_from_db()
    assert 490 <= connection.service_protection["requests_left"] < 500
    assert connection.next_test_at >= before + timedelta(seconds=300)


def test_a_good_budget_leaves_the_schedule_alone(make_connection, microsoft, settings):
    settings.SCHEDULED_TEST_INTERVAL = 1
    connection = due(make_connection(**good(microsoft)))
    before = timezone.now()

    scheduled_tests.call_local()

    connection.refresh_from_db()
    assert connection.service_protection["requests_left"] > 5900
    assert connection.service_protection["seconds_left"] > 1100
    assert connection.next_test_at <= before + timedelta(seconds=80)


def test_two_dispatches_that_both_read_a_connection_as_due_start_it_once(make_connection, microsoft, monkeypatch):
    connection = due(make_connection(**good(microsoft)))
    read_by_both = [Connection.objects.get(pk=connection.pk)]  # each worker read it due before either claimed it
    reads = iter([read_by_both, [], read_by_both, []])
    monkeypatch.setattr(schedule, "_due", lambda now, how_many: next(reads))

    assert schedule.dispatch(start_scheduled) == 1
    assert schedule.dispatch(start_scheduled) == 0  # its UPDATE no longer matches the due time it read

    assert scheduled_runs(connection).count() == 1


def schedule_card(client, connection) -> str:
    page = client.get(connection.get_absolute_url()).content.decode()
    return text_of(re.search(r'<div class="card mt-4" id="schedule"[^>]*>(.*?)</div>\s*</div>\s*</div>', page, re.S)[1])


def test_the_connection_page_shows_the_next_scheduled_test_and_the_budget_left(
    admin_client, make_connection, microsoft
):
    microsoft.sim.set_service_protection(microsoft.env.url, remaining_requests=4000, remaining_seconds=900)
    connection = due(make_connection(**good(microsoft)))
    scheduled_tests.call_local()
    connection.refresh_from_db()

    card = schedule_card(admin_client, connection)

    assert "Every 60 minutes" in card
    assert f"Next scheduled TEST: {connection.next_test_at:%Y-%m-%d %H:%M} UTC (in " in card
    assert re.search(r"Requests left 3,99\d of 6,000", card)
    assert re.search(r"Execution time left 9\d\d of 1,200 s", card)
    assert "Put back" not in card and "Below" not in card


def test_the_page_says_why_dataverse_put_the_schedule_back(admin_client, make_connection, microsoft, settings):
    settings.SCHEDULED_TEST_INTERVAL = 1
    microsoft.sim.set_service_protection(microsoft.env.url, requests=10, remaining_requests=0, retry_after=900)
    connection = due(make_connection(**good(microsoft)))
    scheduled_tests.call_local()

    card = schedule_card(admin_client, connection)

    assert "Put back at Dataverse's request: its last answer was HTTP 429 with Retry-After 900 s" in card
    assert "Throttled HTTP 429: retry after 900 s" in card


def test_the_page_says_the_schedule_is_off_or_paused(
    admin_client, make_connection, settings, dynamics_crm_subscription
):
    connection = make_connection()
    assert "No reading yet" in schedule_card(admin_client, connection)

    settings.SCHEDULED_TEST_INTERVAL = 0
    assert "Off: the operator set SCHEDULED_TEST_INTERVAL to 0" in schedule_card(admin_client, connection)

    settings.SCHEDULED_TEST_INTERVAL = 60
    dynamics_crm_subscription.delete()
    caches["process"].clear()
    assert "Paused: Dynamics CRM has no trial or subscription" in schedule_card(admin_client, connection)


def test_a_test_on_the_page_brings_the_card_up_to_date(admin_client, make_connection, microsoft):
    connection = make_connection(**good(microsoft))

    answer = admin_client.post(
        f"/connections/{connection.pk}/test/", {"source": "page"}, HTTP_ACCEPT="application/json"
    )
    done = admin_client.get(answer.json()["status_url"], HTTP_ACCEPT="application/json").json()

    assert re.search(r"Requests left\s*</dt>.*?5,99\d of 6,000", done["schedule_html"], re.S)


def test_a_service_protection_refusal_says_which_limit_and_how_long_to_wait(make_connection, microsoft):
    microsoft.sim.set_service_protection(microsoft.env.url, requests=10, remaining_requests=0, retry_after=900)
    connection = due(make_connection(**good(microsoft)))

    scheduled_tests.call_local()

    result = scheduled_runs(connection).get().result
    assert result["message"] == (
        "Connection unavailable: Dataverse WhoAmI failed. Dataverse's service protection limits refused WhoAmI "
        "(HTTP 429, 0x80072322: more than 6,000 requests from this application user in 5 minutes); it asks to "
        "retry after 900 s."
    )
    assert "scheduled re-tests wait by themselves" in result["hint"]


def test_a_queue_that_refuses_the_scheduled_test_leaves_the_connection_due(make_connection, microsoft):
    connection = due(make_connection(**good(microsoft)))

    def refused(candidate, slot):
        raise QueueUnavailableError("the queue is down")

    with pytest.raises(QueueUnavailableError):
        schedule.dispatch(refused)

    assert not scheduled_runs(connection).exists()
    assert Connection.objects.get(pk=connection.pk).next_test_at <= timezone.now()  # the next dispatch takes it
