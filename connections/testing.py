"""TEST a connection: the one use case that the views, the admin action and `manage.py test_connection` call.

It applies the Premium gate and (for a person's TEST) the rate limits, runs the check under the operator's limits,
records the outcome on a saved connection and writes the audit event.
"""

import dataclasses
from contextlib import contextmanager

from django.views.decorators.debug import sensitive_variables

from audit import trail
from audit.models import Action
from connections import azure_ad, throttle
from connections.credentials import CREDENTIAL_FIELDS, params_for
from connections.crypto import SecretDecryptionError
from connections.dynamics import check
from connections.dynamics.delegated import SIGN_IN_AGAIN_HINT
from connections.limits import test_limits
from connections.models import Connection
from marketplace import gate
from marketplace.catalogue import DYNAMICS_CRM


def test_saved(connection: Connection, actor, *, rate_limited: bool = True) -> check.CheckResult:
    """TEST a saved connection with its stored credential, record the outcome and audit it.

    Raises gate.ConnectorUnavailableError without a trial or subscription, throttle.TestRefusedError over the
    rate limits (unless `rate_limited` is False: the command line and the admin's bulk action)."""
    gate.require(DYNAMICS_CRM)
    with _throttled(actor, f"connection:{connection.pk}", connection.url, rate_limited):
        result = run_check(connection)
    connection.record_test(result)
    trail.record(actor, Action.CONNECTION_TESTED, connection, outcome=result.code or "available")
    return result


@sensitive_variables("secret", "certificate", "password")
def test_unsaved(connection: Connection, actor, *, secret: str = "", certificate=None, password: str = ""):
    """TEST the connection form's data (saved or new) with the typed credential; nothing is saved but the audit."""
    gate.require(DYNAMICS_CRM)
    with _throttled(actor, f"form:{connection.pk or 'new'}", connection.url, True):
        result = run_check(connection, secret=secret, certificate=certificate, password=password)
    trail.record(
        actor,
        Action.CONNECTION_TESTED,
        connection if connection.pk else None,
        outcome=result.code or "available",
        detail="unsaved form" + (f" for {connection.name}" if connection.name else ""),
    )
    return result


@sensitive_variables("secret", "certificate", "password", "params")
def run_check(connection: Connection, secret: str = "", certificate=None, password: str = "") -> check.CheckResult:
    """Run the check (saved or as typed); an AzureAD refresh is stored at once, under the row's lock."""
    steps = {"crm_version": connection.crm_version, "auth_scheme": connection.auth_scheme}
    retype = CREDENTIAL_FIELDS.get(connection.auth_scheme, "the Client Secret")
    try:
        params = params_for(connection, secret, certificate, password)
    except SecretDecryptionError as error:
        return check.not_run(
            "secret_unreadable", str(error), f"Enter {retype} again (edit the connection) and TEST.", **steps
        )
    if not params.credential:
        what = CREDENTIAL_FIELDS.get(connection.auth_scheme, "the Client Secret or upload the certificate")
        return check.not_run(
            "no_credential",
            "No credential is stored for this connection.",
            f"Edit the connection and enter {what}.",
            **steps,
        )
    if not connection.is_delegated or not connection.pk:
        return check.run(params, test_limits())
    with azure_ad.locked_token_cache(connection.pk) as stored:
        try:
            token_cache = stored.get_token_cache()
        except SecretDecryptionError as error:  # a lost key: only a new sign-in makes a cache it can read
            return check.not_run("sign_in_required", str(error), SIGN_IN_AGAIN_HINT, **steps)
        result = check.run(dataclasses.replace(params, token_cache=token_cache), test_limits())
        if result.updated_token_cache:
            azure_ad.store_token_cache(stored, result.updated_token_cache)
    return result


@contextmanager
def _throttled(actor, target: str, url: str, rate_limited: bool):
    """A person's TESTs: one at a time per target, within the rates per user and per host."""
    if rate_limited and getattr(actor, "pk", None):
        with throttle.one_at_a_time(actor.pk, target):
            throttle.check_rate(actor.pk, url)
            yield
    else:
        yield
