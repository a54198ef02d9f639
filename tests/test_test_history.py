"""Every TEST is kept: the background ones and the command line's, with no secret in the row, then pruned after
TEST_HISTORY_DAYS."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from connections import background, history
from connections.runs import RunSource, RunState, TestRun
from tests.test_connection_test import good


@pytest.fixture
def saved(make_connection, microsoft):
    values = good(microsoft)
    return make_connection(
        name="Contoso Sales",
        client_id=values["client_id"],
        azure_tenant=values["azure_tenant"],
        url=values["url"],
        client_secret=values["client_secret"],
    )


def only_run(connection) -> TestRun:
    (run,) = TestRun.objects.filter(connection=connection)
    return run


def test_the_command_keeps_a_finished_test_started_from_the_command_line(saved, microsoft, capsys):
    call_command("test_connection", "Contoso Sales")
    run = only_run(saved)
    assert (run.source, run.state, run.started_by, run.payload_encrypted) == (RunSource.COMMAND, "finished", None, "")
    assert run.result["ok"] is True and run.result["code"] == "" and run.result["elapsed"] > 0
    assert run.created_at <= run.finished_at
    assert [(step["label"], step["status"]) for step in run.steps][:2] == [
        ("Outbound check", "ok"),
        ("Token from Entra ID", "ok"),
    ]
    assert all(step["elapsed"] >= 0 for step in run.steps)


def test_the_command_keeps_a_failed_test_with_its_failing_step_and_code(saved, microsoft, capsys):
    saved.client_id = "00000000-0000-0000-0000-000000000001"
    saved.save()
    with pytest.raises(SystemExit):
        call_command("test_connection", "Contoso Sales")
    run = only_run(saved)
    assert run.result["ok"] is False
    assert run.result["step"] == "token" and run.result["code"]


def test_no_kept_test_holds_the_secret(saved, microsoft, admin_client, capsys):
    call_command("test_connection", "Contoso Sales")
    admin_client.post(f"/connections/{saved.pk}/test/", {"source": "page"})
    rows = TestRun.objects.filter(connection=saved)
    assert sorted(rows.values_list("source", flat=True)) == ["command", "page"]
    for run in rows:
        kept = str(TestRun.objects.filter(pk=run.pk).values().get())
        assert microsoft.secret.value not in kept
        assert run.payload_encrypted == "" and run.fingerprint == ""


def make_finished(connection, days_ago: int, state=RunState.FINISHED) -> TestRun:
    when = timezone.now() - dt.timedelta(days=days_ago)
    return TestRun.objects.create(
        connection=connection,
        source=RunSource.PAGE,
        state=state,
        lock_key=f"old:{days_ago}:{state}",
        crm_version="CRMOnline",
        auth_scheme="AzureServicePrincipal",
        created_at=when,
        deadline=when,
        finished_at=when if state == RunState.FINISHED else None,
        result={"ok": True},
    )


def test_the_nightly_task_deletes_finished_tests_older_than_the_setting(make_connection, settings):
    settings.TEST_HISTORY_DAYS = 90
    connection = make_connection()
    old, kept = make_finished(connection, 91), make_finished(connection, 89)
    still_running = make_finished(connection, 91, state=RunState.RUNNING)
    background.prune_test_history.call_local()
    assert set(TestRun.objects.values_list("pk", flat=True)) == {kept.pk, still_running.pk}
    assert not TestRun.objects.filter(pk=old.pk).exists()


def test_it_prunes_after_the_days_the_setting_says(make_connection, settings):
    settings.TEST_HISTORY_DAYS = 7
    connection = make_connection()
    make_finished(connection, 8), make_finished(connection, 6)
    assert history.prune() == 1
    assert TestRun.objects.count() == 1


def test_the_nightly_task_is_scheduled_for_the_worker():
    from connections import tasks

    assert tasks.prune_test_history is background.prune_test_history
    assert background.prune_test_history.s().validate_datetime(dt.datetime(2026, 12, 1, 3, 20))
    assert not background.prune_test_history.s().validate_datetime(dt.datetime(2026, 12, 1, 4, 20))
