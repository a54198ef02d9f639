"""TEST a connection: the check every TEST runs (`run_check`), on a worker (`background`) or here and now for the
command line (`test_saved`), with the Premium gate, the record of the outcome and the audit event.
"""

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit import trail
from audit.models import Action
from connections import azure_ad, history
from connections.credentials import CREDENTIAL_FIELDS, params_for
from connections.crypto import SecretDecryptionError
from connections.dynamics import check, entra
from connections.dynamics.delegated import SIGN_IN_AGAIN_HINT
from connections.limits import test_limits
from connections.models import Connection
from connections.runs import RunSource
from marketplace import gate
from marketplace.catalogue import DYNAMICS_CRM


def test_saved(connection: Connection, actor=None, source: str = RunSource.COMMAND) -> check.CheckResult:
    """TEST a saved connection here and now (the command line), record the outcome, keep it in the history and
    audit it.

    Raises gate.ConnectorUnavailableError without a trial or subscription. Pages queue TESTs instead
    (`background.start_saved`): those never hold a web worker."""
    gate.require(DYNAMICS_CRM)
    started_at = timezone.now()
    result = run_check(connection)
    connection.record_test(result)
    history.record_finished(connection, actor, source, result, started_at)
    trail.record(actor, Action.CONNECTION_TESTED, connection, outcome=result.code or "available")
    return result


@sensitive_variables("secret", "certificate", "password", "params")
def run_check(
    connection: Connection, secret: str = "", certificate=None, password: str = "", *, limits=None, progress=None
) -> check.CheckResult:
    """Run the check (saved or as typed); an AzureAD refresh is stored at once, under the row's lock.

    `limits` default to the settings' (a background TEST passes what is left of its budget); `progress` sees the
    steps as they start and end."""
    limits = limits or test_limits()
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
        _note_current_credential(
            connection, typed=bool(secret or certificate or password), credential=params.credential
        )
        return check.run(params, limits, progress)
    try:
        return azure_ad.run_signed_in(connection.pk, params, lambda signed_in: check.run(signed_in, limits, progress))
    except SecretDecryptionError as error:  # a lost key: only a new sign-in makes a cache it can read
        return check.not_run("sign_in_required", str(error), SIGN_IN_AGAIN_HINT, **steps)


@sensitive_variables("credential")
def _note_current_credential(connection: Connection, *, typed: bool, credential) -> None:
    """A saved connection's app-only TEST with its own credential: if that credential replaced the one this process
    last TESTed it with (a promotion, an edit), the old credential's msal apps and tokens are dropped here."""
    if connection.pk and not typed and not connection.is_on_premises:
        entra.current_credentials.use(connection.pk, credential)
