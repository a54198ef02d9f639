"""The connection page's card for a credential with nothing secret stored: a federated credential's three values
(with the Azure CLI command), the issuer's signing keys for administrators, or the managed identity asked."""

from django.http import HttpRequest

from connections import secretless
from connections.form_credentials import federated_rows
from connections.models import Connection, ManagedIdentityType


def context(request: HttpRequest, connection: Connection) -> dict:
    if connection.uses_federated and connection.federated_subject:
        from federation import issuer
        from federation.models import KeySource

        values = secretless.federated_values(connection, connection.federated_subject)
        signing = issuer.signing_status() if request.user.is_superuser else None
        source = KeySource(signing.source).label if signing else ""
        return {
            "federated": values,
            "federated_rows": federated_rows(values),
            "signing": signing,
            "signing_source": source,
        }
    if connection.uses_managed_identity:
        from connections.dynamics import managed_identity

        kind = ManagedIdentityType(connection.managed_identity_type or ManagedIdentityType.SYSTEM)
        return {
            "identity": {
                "kind": kind.label,
                "identifier": connection.managed_identity_id,
                "endpoint": managed_identity.endpoint_description(),
            }
        }
    return {}
