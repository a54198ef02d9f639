"""What the views, the admin and the commands do with connections: TEST them and record the outcome."""

from django.views.decorators.debug import sensitive_variables

from connections.crypto import SecretDecryptionError
from connections.dynamics import check
from connections.models import Connection, CredentialType


def _credential(connection: Connection, secret: str = "", certificate=None):
    if connection.credential_type == CredentialType.CERTIFICATE:
        return certificate or connection.get_certificate()
    return secret or connection.get_client_secret()


@sensitive_variables("secret", "credential")
def params_for(connection: Connection, secret: str = "", certificate=None) -> check.CheckParams:
    """Check parameters for a connection; typed-in credentials win over the stored ones."""
    credential = _credential(connection, secret, certificate)
    return check.CheckParams(
        url=connection.url,
        crm_version=connection.crm_version,
        azure_tenant=connection.azure_tenant,
        client_id=connection.client_id,
        azure_environment=connection.azure_environment,
        credential=credential,
    )


@sensitive_variables("secret", "certificate", "params")
def run_check(connection: Connection, secret: str = "", certificate=None) -> check.CheckResult:
    try:
        params = params_for(connection, secret, certificate)
    except SecretDecryptionError as error:
        return check.not_run(
            "secret_unreadable", str(error), "Enter the Client Secret again (edit the connection) and TEST."
        )
    if not params.credential:
        return check.not_run(
            "no_credential",
            "No credential is stored for this connection.",
            "Edit the connection and enter the Client Secret or upload the certificate.",
        )
    return check.run(params)


def test_saved(connection: Connection) -> check.CheckResult:
    """TEST a saved connection with its stored credential and record the outcome on it."""
    result = run_check(connection)
    connection.record_test(result)
    return result
