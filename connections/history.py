"""A connection's TEST history: every finished TEST is a TestRun row, kept for TEST_HISTORY_DAYS.

The rows hold no secret: a finished row's result is `stored_result`, its steps their label, status and time. A New
connection form's TEST keeps a keyed hash of the values it TESTed, so that CREATE with the same values can make it
the new connection's first TEST without the secret ever being stored.
"""

import copy
import json
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.debug import sensitive_variables

from connections.dynamics import check
from connections.dynamics.credential_expiry import ExpiryReading
from connections.runs import RunSource, RunState, TestRun

# What decides a TEST's outcome (the name and the scope do not): a form TEST counts for CREATE when all are equal.
TESTED_FIELDS = (
    "url",
    "crm_version",
    "azure_tenant",
    "client_id",
    "azure_environment",
    "auth_scheme",
    "callback_url",
    "credential_type",
    "windows_user",
    "adfs_url",
    "adfs_resource",
    "federated_subject",
    "managed_identity_type",
    "managed_identity_id",
)
ADOPTION_WINDOW = timedelta(minutes=15)  # a form TEST older than this does not count for CREATE
FINGERPRINT_SALT = "connections.history.form-test"


def stored_result(result) -> dict:
    """What a finished row keeps of a CheckResult (connections.dynamics.check): no secret is in it."""
    fields = ("ok", "step", "code", "message", "hint", "details", "elapsed", "requests_sent", "service_protection")
    stored = {name: getattr(result, name) for name in fields} | {"finished_at": result.finished_at.isoformat()}
    if result.credential_expiry is not None:  # dates, a hint or a thumbprint: no secret
        reading = result.credential_expiry
        stored["credential_expiry"] = {
            "expires_at": reading.expires_at.isoformat() if reading.expires_at else None,
            "credential": reading.credential,
            "read_at": reading.read_at.isoformat(),
            "note": reading.note,
            "refusal": reading.refusal,
        }
    return stored


def result_of(run: TestRun) -> check.CheckResult | None:
    """The finished TEST's result, as the templates show it; None while it is queued or running."""
    if not run.finished or not run.result:
        return None
    stored = dict(run.result)
    stored["finished_at"] = timezone.datetime.fromisoformat(stored["finished_at"])
    if reading := stored.pop("credential_expiry", None):
        expires_at = reading["expires_at"]
        stored["credential_expiry"] = ExpiryReading(
            timezone.datetime.fromisoformat(expires_at) if expires_at else None,
            reading["credential"],
            timezone.datetime.fromisoformat(reading["read_at"]),
            reading["note"],
            reading.get("refusal", ""),
        )
    return check.CheckResult(steps=[check.StepResult(**step) for step in run.steps], **stored)


@sensitive_variables("secret", "certificate", "password", "material")
def fingerprint(connection, *, secret: str = "", certificate=None, password: str = "") -> str:
    """A keyed hash (HMAC-SHA256 under SECRET_KEY) of the values a TEST uses: equal values, equal fingerprints."""
    kept = copy.copy(connection)
    kept.drop_unused_settings()  # as CREATE saves it: what the scheme does not use does not count
    material = {name: getattr(kept, name) for name in TESTED_FIELDS}
    material |= {"secret": secret, "password": password, "certificate": certificate.to_storage() if certificate else ""}
    return salted_hmac(FINGERPRINT_SALT, json.dumps(material, sort_keys=True), algorithm="sha256").hexdigest()


def record_finished(connection, actor, source: str, result, started_at) -> TestRun:
    """Keep a TEST that ran here and now (the command line) as a finished row, like a background TEST's."""
    return TestRun.objects.create(
        connection=connection,
        started_by=actor,
        source=source,
        state=RunState.FINISHED,
        lock_key=f"connection:{connection.pk}",
        crm_version=connection.crm_version,
        auth_scheme=connection.auth_scheme,
        steps=result.steps_as_data(),
        result=stored_result(result),
        created_at=started_at,
        started_at=started_at,
        deadline=started_at + timedelta(seconds=settings.TEST_TOTAL_TIMEOUT),
        finished_at=result.finished_at,
    )


def adopt_form_test(connection, actor, created_fingerprint: str) -> TestRun | None:
    """CREATE right after a TEST of exactly these values: that TEST becomes the new connection's first."""
    run = (
        TestRun.objects.filter(
            started_by=actor,
            source=RunSource.FORM,
            connection__isnull=True,
            state=RunState.FINISHED,
            finished_at__gte=timezone.now() - ADOPTION_WINDOW,
        )
        .order_by("-finished_at")
        .first()
    )
    if run is None or not run.fingerprint or not constant_time_compare(run.fingerprint, created_fingerprint):
        return None
    if not TestRun.objects.filter(pk=run.pk, connection__isnull=True).update(connection=connection):
        return None  # a concurrent CREATE adopted it first
    connection.record_test(result_of(run))
    return run


def prune(now=None) -> int:
    """Delete finished TESTs older than TEST_HISTORY_DAYS; queued and running ones are the sweeper's."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.TEST_HISTORY_DAYS)
    deleted, _ = TestRun.objects.filter(state=RunState.FINISHED, created_at__lt=cutoff).delete()
    return deleted
