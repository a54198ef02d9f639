"""Check access, the use case: a page starts it after a good TEST (Premium gate, rate limits, one at a time per
connection) and a worker runs it under the TEST's budget, keeps the result with the connection and audits it.

The audit event names the tables read and the outcome; the rows read are never kept anywhere.
"""

import dataclasses
import logging
import uuid

from django.conf import settings
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from audit import trail
from audit.models import Action
from connections import azure_ad, queueing, throttle
from connections.access_checks import AccessCheck
from connections.credentials import params_for
from connections.crypto import SecretDecryptionError
from connections.dynamics import access_check
from connections.limits import test_limits
from connections.models import Connection, TestStatus
from connections.runs import RunState
from marketplace import gate
from marketplace.catalogue import DYNAMICS_CRM

logger = logging.getLogger(__name__)
QueueUnavailableError = queueing.QueueUnavailableError  # raised by start
ALREADY_RUNNING = "Check access is already running for this connection: wait for its result."
TEST_FIRST = "Check access runs after a good TEST: TEST the connection first."
MIN_BUDGET = 1.0


def start(connection: Connection, actor, named: list[str]) -> AccessCheck:
    """Queue a check of what the connection's principal can read.

    Raises gate.ConnectorUnavailableError, throttle.TestRefusedError (rate limits, one running, no good TEST)
    or QueueUnavailableError."""
    gate.require(DYNAMICS_CRM)
    if connection.last_test_status != TestStatus.AVAILABLE:
        raise throttle.TestRefusedError(throttle.ThrottleRefusal(TEST_FIRST, 0, status=409))
    throttle.check_rate(actor.pk, connection.url)
    steps = access_check.steps_for(connection.crm_version, connection.auth_scheme)
    run = AccessCheck.new(connection, actor, named, steps)
    _end_stale(run.lock_key)
    running = throttle.TestRefusedError(throttle.ThrottleRefusal(ALREADY_RUNNING, 5, busy=True))
    return queueing.enqueue(run, run_access_check, "Check access", lambda _: running)


@db_task()
def run_access_check(check_id: str) -> None:
    """The task: run one queued check; a bug ends it as failed, never leaves it running."""
    try:
        execute(check_id)
    except Exception:  # noqa: BLE001 - the worker's one edge: log it under an id, end the check
        incident = uuid.uuid4().hex[:12]
        logger.exception("Internal error %s in Check access %s", incident, check_id)
        run = AccessCheck.objects.filter(pk=check_id).first()
        if run is not None and not run.finished:
            _finish(run, _not_run("internal_error", f"an internal error stopped it (incident {incident})."))


@db_periodic_task(crontab(minute="*"))
def end_stale_access_checks() -> None:
    """Every minute: checks whose worker stopped end as failed instead of "running" for ever."""
    for run in AccessCheck.objects.filter(state__in=[RunState.QUEUED, RunState.RUNNING]):
        if run.is_stale():
            end_stale(run)


def _end_stale(lock_key: str) -> None:
    for run in AccessCheck.objects.filter(lock_key=lock_key, state__in=[RunState.QUEUED, RunState.RUNNING]):
        if run.is_stale():
            end_stale(run)


def end_stale(run: AccessCheck) -> None:
    queued = run.state == RunState.QUEUED
    text = "no worker took it in time." if queued else "the worker running it stopped before it finished."
    _finish(run, _not_run("not_started" if queued else "worker_stopped", text), only_if_state=run.state)


def execute(check_id: str) -> None:
    """The worker's side: claim the check, run it within what is left of its budget, keep the result."""
    claimed = AccessCheck.objects.filter(pk=check_id, state=RunState.QUEUED).update(
        state=RunState.RUNNING, started_at=timezone.now()
    )
    run = AccessCheck.objects.select_related("connection", "started_by").filter(pk=check_id).first()
    if not claimed or run is None:
        return
    left = (run.deadline - timezone.now()).total_seconds()
    if left < MIN_BUDGET:
        _finish(run, _not_run("not_started", "it waited in the queue for its whole time budget."))
        return
    limits = dataclasses.replace(test_limits(), total=min(settings.TEST_TOTAL_TIMEOUT, left))
    _finish(run, _check(run, limits))


def _check(run: AccessCheck, limits) -> dict:
    connection = run.connection
    try:
        params = params_for(connection)
    except SecretDecryptionError as error:
        return _not_run("secret_unreadable", f"{error} Edit the connection and enter the credential again.")

    def progress(steps) -> None:
        AccessCheck.objects.filter(pk=run.pk).update(steps=[vars(step).copy() for step in steps])

    if not connection.is_delegated:
        return access_check.run(params, limits, run.named_tables, progress).as_data()
    try:
        checked = azure_ad.run_signed_in(
            connection.pk, params, lambda signed_in: access_check.run(signed_in, limits, run.named_tables, progress)
        )
    except SecretDecryptionError as error:
        return _not_run("sign_in_required", f"{error} Sign in again on the connection's page.")
    return checked.as_data()


def _not_run(code: str, text: str) -> dict:
    return {"ok": False, "code": code, "message": f"Check access failed: {text}", "hint": "Check access again.",
            "steps": [], "tables": [], "reads": [], "warnings": [], "principal": {}}  # fmt: skip


def _finish(run: AccessCheck, result: dict, only_if_state=None) -> None:
    """Keep the result (once: a stale sweep and a late worker never both record it), then audit it."""
    rows = AccessCheck.objects.filter(pk=run.pk).exclude(state=RunState.FINISHED)
    if only_if_state:
        rows = rows.filter(state=only_if_state)
    steps = result.get("steps") or AccessCheck.objects.filter(pk=run.pk).values_list("steps", flat=True).first()
    if rows.update(state=RunState.FINISHED, result=result, steps=steps or [], finished_at=timezone.now()):
        # The connection keeps its latest check only: a list of 2,000 tables per check would pile up otherwise.
        earlier = AccessCheck.objects.filter(connection_id=run.connection_id, state=RunState.FINISHED)
        earlier.exclude(pk=run.pk).delete()
        read = ", ".join(table["logical_name"] for table in result.get("reads", [])) or "no table read"
        outcome = result.get("code") or "ok"
        trail.record(run.started_by, Action.ACCESS_CHECKED, run.connection, outcome=outcome, detail=read)
