"""The parameters of a TEST for a connection: its settings and its credential, typed-in or stored."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connections import secretless
from connections.dynamics.credential_expiry import REFUSAL_REMEMBERED_HOURS, KnownExpiry, credential_key
from connections.dynamics.runner import CheckParams
from connections.models import AuthScheme, Connection, CredentialType

# What to enter again when the stored credential is missing or unreadable, by Auth Scheme.
CREDENTIAL_FIELDS = {AuthScheme.NTLM: "the Password", AuthScheme.ADFS: "the Client Secret"}


@sensitive_variables("secret", "password")
def _credential(connection: Connection, secret: str = "", certificate=None, password: str = ""):
    if connection.auth_scheme == AuthScheme.NTLM:
        return password or connection.get_windows_password()
    if connection.uses_federated:
        return secretless.federated_credential(connection)
    if connection.uses_managed_identity:
        return secretless.managed_identity(connection)
    if connection.credential_type == CredentialType.CERTIFICATE and connection.auth_scheme != AuthScheme.ADFS:
        return certificate or connection.get_certificate()
    return secret or connection.get_client_secret()


@sensitive_variables("secret", "password", "credential")
def params_for(connection: Connection, secret: str = "", certificate=None, password: str = "") -> CheckParams:
    """Check parameters for a connection; typed-in credentials win over the stored ones.

    Raises crypto.SecretDecryptionError when the stored credential cannot be decrypted."""
    credential = _credential(connection, secret, certificate, password)
    return CheckParams(
        url=connection.url,
        crm_version=connection.crm_version,
        azure_tenant=connection.azure_tenant,
        client_id=connection.client_id,
        azure_environment=connection.azure_environment,
        credential=credential,
        auth_scheme=connection.auth_scheme,
        windows_user=connection.windows_user,
        adfs_url=connection.adfs_url,
        adfs_resource=connection.adfs_resource,
        known_expiry=None if (secret or certificate) else known_expiry(connection, credential),
        read_expiry=not (secret or certificate),
    )


@sensitive_variables("credential")
def known_expiry(connection: Connection, credential, now=None) -> KnownExpiry | None:
    """The stored reading of the saved credential's expiry, if fresh enough that the TEST need not ask Microsoft
    Graph: read less than CREDENTIAL_EXPIRY_REFRESH_HOURS ago (Graph's refusal: less than an hour ago), and of this
    credential (a new secret or certificate forgets the reading of the old one: Connection._forget_expiry_reading)."""
    read_at, expires_at = connection.credential_expiry_read_at, connection.credential_expires_at
    if not connection.pk or not credential or read_at is None or connection.is_secretless:
        return None
    if connection.credential_expiry_of != credential_key(credential):
        return None
    hours = settings.CREDENTIAL_EXPIRY_REFRESH_HOURS if expires_at is not None else REFUSAL_REMEMBERED_HOURS
    if (now or timezone.now()) - read_at > timedelta(hours=hours):
        return None
    return KnownExpiry(expires_at, read_at)
