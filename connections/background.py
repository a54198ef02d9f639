"""TESTs in the background: a page starts one (gate, rate limits, one at a time, enqueue) and a worker runs it.

The web request never waits for Microsoft: it writes a TestRun row and enqueues its id. The worker claims the row,
runs the same check as `testing.run_check` under what is left of the TEST's budget, writes each step as it ends,
records the outcome and the audit event, and deletes the typed credential.
"""

import dataclasses
import json
import logging
import traceback
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from audit import trail
from audit.models import Action
from connections import crypto, expiry_digest, history, queueing, schedule, testing, throttle
from connections.dynamics import check
from connections.dynamics.certificates import CertificateCredential
from connections.history import TESTED_FIELDS, stored_result
from connections.limits import test_limits
from connections.models import Connection
from connections.runs import NOT_OF_SAVED_SETTINGS, RunSource, RunState, TestRun
from connections.schedule import SlotTakenError
from marketplace import gate
from marketplace.catalogue import DYNAMICS_CRM

logger = logging.getLogger(__name__)
QueueUnavailableError = queueing.QueueUnavailableError  # raised by the start_* functions
# What a form TEST needs on the worker: the typed settings, and an edited connection's stored ciphertexts (a blank
# secret box TESTs with the stored secret). Ciphertext stays ciphertext inside the encrypted payload.
CONNECTION_FIELDS = (
    "name",
    *TESTED_FIELDS,
    "client_secret_encrypted",
    "certificate_encrypted",
    "windows_password_encrypted",
)
MIN_BUDGET = 1.0  # seconds: less than this left when a worker takes the TEST, and it does not start
ALREADY_RUNNING = "A TEST of this connection is already running: wait for its result."


def start_saved(connection: Connection, actor, source: str) -> TestRun:
    """Queue a TEST of a saved connection with its stored credential.

    Raises gate.ConnectorUnavailableError, throttle.TestRefusedError or QueueUnavailableError."""
    gate.require(DYNAMICS_CRM)
    if actor is not None and source != RunSource.ADMIN:
        throttle.check_rate(actor.pk, connection.url)
    return _enqueue(_new_run(connection, actor, source, f"connection:{connection.pk}"))


def start_scheduled(connection: Connection, slot: int) -> TestRun:
    """Queue a scheduled re-test holding `slot` (connections/schedule.py). Raises SlotTakenError when another
    worker holds the slot, throttle.TestRefusedError when a TEST of the connection is already running."""
    run = _new_run(connection, None, RunSource.SCHEDULE, f"connection:{connection.pk}")
    run.slot = slot
    return _enqueue(run)


@sensitive_variables("secret", "certificate", "password", "payload")
def start_unsaved(connection: Connection, actor, form_values: dict, *, secret="", certificate=None, password=""):
    """Queue a TEST of the connection form's data; the typed credential travels encrypted, never in plain text."""
    gate.require(DYNAMICS_CRM)
    throttle.check_rate(actor.pk, connection.url)
    target = f"connection:{connection.pk}" if connection.pk else f"form:{actor.pk}"
    run = _new_run(connection, actor, RunSource.FORM, target)
    run.payload_encrypted = _payload(connection, secret=secret, certificate=certificate, password=password)
    if not connection.pk:  # CREATE with exactly these values adopts this TEST (history.adopt_form_test)
        run.fingerprint = history.fingerprint(connection, secret=secret, certificate=certificate, password=password)
    run.form_values = form_values
    return _enqueue(run)


@sensitive_variables("credential")
def start_new_credential(connection: Connection, actor, credential) -> TestRun:
    """Queue a TEST of a saved connection with a credential that is not current yet (connections/rotation.py): it
    travels encrypted as a typed one does, and its result never moves the connection's Last TEST or state.

    Raises gate.ConnectorUnavailableError, throttle.TestRefusedError or QueueUnavailableError."""
    gate.require(DYNAMICS_CRM)
    throttle.check_rate(actor.pk, connection.url)
    run = _new_run(connection, actor, RunSource.NEW_CREDENTIAL, f"connection:{connection.pk}")
    typed = {"certificate": credential} if isinstance(credential, CertificateCredential) else {"secret": credential}
    run.payload_encrypted = _payload(connection, **typed)
    return _enqueue(run)


@sensitive_variables("secret", "certificate", "password", "payload")
def _payload(connection: Connection, *, secret="", certificate=None, password="") -> str:
    """The settings and the typed credential a worker TESTs, encrypted (the task itself carries only the run's id)."""
    payload = {
        "connection": {name: getattr(connection, name) for name in CONNECTION_FIELDS} | {"id": connection.pk},
        "secret": secret,
        "password": password,
        "certificate": certificate.to_storage() if certificate else "",
    }
    return crypto.encrypt(json.dumps(payload))


def _new_run(connection: Connection, actor, source: str, lock_key: str) -> TestRun:
    now = timezone.now()
    steps = check.steps_for(connection.crm_version, connection.auth_scheme)  # all waiting
    return TestRun(
        connection=connection if connection.pk else None,
        started_by=actor,
        source=source,
        lock_key=lock_key,
        crm_version=connection.crm_version,
        auth_scheme=connection.auth_scheme,
        steps=[{"key": key, "label": label, "status": "skipped", "elapsed": 0.0, "detail": ""} for key, label in steps],
        created_at=now,
        deadline=now + timedelta(seconds=settings.TEST_TOTAL_TIMEOUT),
    )


@db_task()
def run_test(run_id: str) -> None:
    """The task: run one queued TEST (a worker thread takes it from the queue); a bug ends it, never hangs it."""
    try:
        execute(run_id)
    except Exception as error:  # noqa: BLE001 - the worker's one edge: log it under an id, end the TEST
        incident = uuid.uuid4().hex[:12]
        logger.error("Internal error %s in background TEST %s:\n%s", incident, run_id, _traceback(error))
        run = TestRun.objects.filter(pk=run_id).first()
        if run is not None and not run.finished:
            text = f"an internal error stopped the TEST (incident {incident})."
            hint = "This is a fault in the connector, not in the connection's settings: give the id to your operator."
            _finish(run, check.not_run("internal_error", text, hint, run.crm_version, run.auth_scheme))


def _traceback(error: Exception) -> str:
    """The traceback's frames and the exception's type, without its message (it could quote a typed secret)."""
    frames = "".join(traceback.format_tb(error.__traceback__))
    return f"{frames}{type(error).__module__}.{type(error).__qualname__}"


@db_periodic_task(crontab(minute="*"))
def end_stale_tests() -> None:
    """Every minute, on every worker: TESTs whose worker stopped end as failed instead of "running" for ever."""
    for run in TestRun.objects.filter(state__in=[RunState.QUEUED, RunState.RUNNING]):
        if run.is_stale():
            end_stale(run)


@db_periodic_task(crontab(minute="*"))
def scheduled_tests() -> None:
    """Every minute, on every worker: start the scheduled re-tests that are due (each runs once: schedule.py)."""
    schedule.dispatch(start_scheduled)


@db_task()
def continue_schedule() -> None:
    """After a scheduled TEST ends its slot is free: start the next due one now rather than at the next minute."""
    schedule.dispatch(start_scheduled)


@db_periodic_task(crontab(hour="3", minute="20"))
def prune_test_history() -> None:
    """Every night: finished TESTs older than TEST_HISTORY_DAYS are deleted."""
    deleted = history.prune()
    if deleted:
        logger.info("Pruned %d TESTs older than %d days.", deleted, settings.TEST_HISTORY_DAYS)


@db_periodic_task(crontab(hour="7", minute="10"))
def credential_expiry_digest() -> None:
    """Every morning: the owners and administrators hear of credentials that crossed into 30, 7, 1 days or expired."""
    sent = expiry_digest.send_digest()
    if sent:
        logger.info("Sent %d credential expiry digest(s).", sent)


def _enqueue(run: TestRun) -> TestRun:
    _end_stale(run.lock_key)
    return queueing.enqueue(run, run_test, "TEST", _refusal)


def _refusal(run: TestRun) -> Exception:
    """What the constraints' refusal means: another worker took the schedule's slot, or the target is busy."""
    busy = TestRun.objects.filter(lock_key=run.lock_key, state__in=[RunState.QUEUED, RunState.RUNNING])
    if run.slot is not None and not busy.exists():
        return SlotTakenError(run.slot)
    return throttle.TestRefusedError(throttle.ThrottleRefusal(ALREADY_RUNNING, 5, busy=True))


def _end_stale(lock_key: str) -> None:
    """A TEST whose worker died would hold its target for ever: end it as failed before queueing a new one."""
    for run in TestRun.objects.filter(lock_key=lock_key, state__in=[RunState.QUEUED, RunState.RUNNING]):
        if run.is_stale():
            end_stale(run)


def end_stale(run: TestRun) -> None:
    """Report a TEST no worker took in time, or whose worker stopped, as failed (it never stays "running")."""
    if run.state == RunState.QUEUED:
        code, text = "not_started", "the TEST could not start in time: every worker was busy, or none is running."
        hint = (
            "TEST again in a moment. If it keeps happening, an operator should check the workers (make run starts one)."
        )
    else:
        code, text = "worker_stopped", "the worker running the TEST stopped before it finished."
        hint = "TEST again. If it keeps happening, an operator should look at the worker's log."
    result = check.not_run(code, text, hint, run.crm_version, run.auth_scheme)
    _finish(run, result, only_if_state=run.state)


def execute(run_id: str) -> None:
    """The worker's side: claim the TEST, run it within what is left of its budget, record it."""
    run = _claim(run_id)
    if run is None:
        return  # deleted with its connection, or already taken: nothing to do
    left = (run.deadline - timezone.now()).total_seconds()
    if left < MIN_BUDGET:
        text = "the TEST could not start in time: it waited in the queue for its whole time budget."
        _finish(run, check.not_run("not_started", text, "TEST again in a moment.", run.crm_version, run.auth_scheme))
        return
    limits = dataclasses.replace(test_limits(), total=min(settings.TEST_TOTAL_TIMEOUT, left))
    progress = _progress_writer(run.pk)
    if run.payload_encrypted:
        connection, typed = _unpack(run.payload_encrypted)
        _finish(run, testing.run_check(connection, limits=limits, progress=progress, **typed), connection)
    else:
        _finish(run, testing.run_check(run.connection, limits=limits, progress=progress))


def _claim(run_id: str) -> TestRun | None:
    claimed = TestRun.objects.filter(pk=run_id, state=RunState.QUEUED).update(
        state=RunState.RUNNING, started_at=timezone.now()
    )
    return TestRun.objects.select_related("connection", "started_by").filter(pk=run_id).first() if claimed else None


def _progress_writer(run_id):
    def write(steps) -> None:
        TestRun.objects.filter(pk=run_id).update(steps=[vars(step).copy() for step in steps])

    return write


@sensitive_variables("payload")
def _unpack(ciphertext: str) -> tuple[Connection, dict]:
    payload = json.loads(crypto.decrypt(ciphertext))
    fields = payload["connection"]
    connection = Connection(**{name: fields[name] for name in CONNECTION_FIELDS if name in fields})
    connection.pk = fields.get("id")
    certificate = payload["certificate"]
    typed = {
        "secret": payload["secret"],
        "password": payload["password"],
        "certificate": CertificateCredential.from_storage(certificate) if certificate else None,
    }
    return connection, typed


def _record(run: TestRun, connection: Connection | None, result: check.CheckResult) -> None:
    """Every TEST that ends, however it ends: a saved connection's Last TEST, and the audit event."""
    connection = connection or run.connection
    if connection is None:  # the New connection form's TEST, ended before its payload was read
        connection = Connection(name=run.form_values.get("name", ""))
    if run.source not in NOT_OF_SAVED_SETTINGS and connection.pk:
        connection.record_test(result)
    unsaved = run.source == RunSource.FORM
    detail = ("unsaved form" + (f" for {connection.name}" if connection.name else "")) if unsaved else ""
    action = Action.CONNECTION_TESTED
    if run.source == RunSource.NEW_CREDENTIAL:
        action, detail = Action.CREDENTIAL_TESTED, "new certificate" if connection.uses_certificate else "new secret"
    target = connection if connection.pk else None
    trail.record(run.started_by, action, target, outcome=result.code or "available", detail=detail)


def _finish(run: TestRun, result: check.CheckResult, connection: Connection | None = None, only_if_state=None):
    """Store the result (no secret in it) and delete the typed credential in one write, then record the TEST."""
    rows = TestRun.objects.filter(pk=run.pk).exclude(state=RunState.FINISHED)
    if only_if_state:
        rows = rows.filter(state=only_if_state)
    # One transaction: a page that reads the run as finished also reads the connection's recorded outcome (its
    # state, Last TEST, the Check access card), never the one from before this TEST.
    with transaction.atomic():
        ended = rows.update(
            state=RunState.FINISHED,
            payload_encrypted="",
            steps=result.steps_as_data(),
            result=stored_result(result),
            finished_at=timezone.now(),
        )
        if ended:  # once: a stale sweep and a late worker never both record it
            _record(run, connection, result)
    if ended and run.source == RunSource.SCHEDULE and not schedule.dispatching():
        continue_schedule()
