"""What the API answers, as REST framework serializers: they shape the responses and document them in the schema.
No serializer has a field for a secret, a certificate's private key or a password: those are write-only
(connection_input.py documents them), and a read says only whether one is stored."""

from rest_framework import serializers

from connections import secretless
from connections.models import AuthScheme, AzureEnvironment, CredentialType, CrmVersion, Health, Scope, TestStatus
from connections.models import ManagedIdentityType as IdentityType
from connections.runs import RunState


def _choice(choices, **kwargs):
    return serializers.ChoiceField(choices=choices.choices, read_only=True, **kwargs)


class CertificateSerializer(serializers.Serializer):
    subject = serializers.CharField(source="certificate_subject")
    sha1 = serializers.CharField(source="certificate_sha1")
    sha256 = serializers.CharField(source="certificate_sha256")
    not_after = serializers.DateTimeField(source="certificate_not_after", allow_null=True)


class FederatedSerializer(serializers.Serializer):
    """The values to enter under the app registration's Federated credentials (connections/secretless.py)."""

    issuer = serializers.CharField()
    subject = serializers.CharField()
    audience = serializers.CharField()
    az_command = serializers.CharField(help_text="The Azure CLI command that adds this federated credential.")


class LastTestSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TestStatus.values, source="last_test_status")
    tested_at = serializers.DateTimeField(source="last_tested_at", allow_null=True)
    message = serializers.CharField(source="last_test_message")


class ConnectionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    client_id = serializers.CharField(read_only=True)
    url = serializers.CharField(read_only=True)
    crm_version = _choice(CrmVersion)
    azure_tenant = serializers.CharField(read_only=True)
    azure_environment = _choice(AzureEnvironment)
    auth_scheme = _choice(AuthScheme)
    callback_url = serializers.CharField(read_only=True)
    windows_user = serializers.CharField(read_only=True)
    adfs_url = serializers.CharField(read_only=True)
    adfs_resource = serializers.CharField(read_only=True)
    credential_type = _choice(CredentialType)
    managed_identity_type = serializers.ChoiceField(choices=[*IdentityType.values, ""], read_only=True)
    managed_identity_id = serializers.CharField(read_only=True)
    secret_expires_on = serializers.DateField(read_only=True, allow_null=True)
    scope = _choice(Scope)
    owner = serializers.CharField(source="owner.get_username", read_only=True)
    has_client_secret = serializers.BooleanField(read_only=True)
    has_certificate = serializers.BooleanField(read_only=True)
    has_windows_password = serializers.BooleanField(read_only=True)
    certificate = serializers.SerializerMethodField()
    federated_subject = serializers.CharField(read_only=True, allow_null=True)
    federated = serializers.SerializerMethodField()
    state = _choice(Health, source="health", help_text="The connection's health: up, down or unknown.")
    last_test = LastTestSerializer(source="*", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_certificate(self, connection) -> CertificateSerializer(allow_null=True):
        return CertificateSerializer(connection).data if connection.has_certificate else None

    def get_federated(self, connection) -> FederatedSerializer(allow_null=True):
        if not connection.uses_federated or not connection.federated_subject:
            return None
        values = secretless.federated_values(connection, connection.federated_subject, resolve=False)
        return {
            "issuer": values.issuer,
            "subject": values.subject,
            "audience": values.audience,
            "az_command": values.az_command,
        }


class StepSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    status = serializers.CharField()
    elapsed = serializers.FloatField()
    detail = serializers.CharField(allow_blank=True)


class TestRunSerializer(serializers.Serializer):
    """A TEST's progress and its result: the page's result object (ok, step, code, message, hint, details, elapsed,
    steps); the result's fields are null while the TEST is queued or running."""

    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=RunState.choices)
    done = serializers.BooleanField()
    connection = serializers.IntegerField(allow_null=True)
    position = serializers.IntegerField(allow_null=True, help_text="TESTs waiting ahead of this one, while queued.")
    ok = serializers.BooleanField(allow_null=True)
    step = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)
    message = serializers.CharField(allow_null=True)
    hint = serializers.CharField(allow_null=True)
    details = serializers.DictField(allow_null=True)
    elapsed = serializers.FloatField(allow_null=True)
    steps = StepSerializer(many=True)


class HistoryRowSerializer(serializers.Serializer):
    """One finished TEST of the history, as the connection page's table shows it."""

    when = serializers.DateTimeField()
    started_by = serializers.CharField()
    source = serializers.CharField()
    ok = serializers.BooleanField()
    failing_step = serializers.CharField()
    code = serializers.CharField()
    elapsed = serializers.FloatField()


class AccessCheckSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=RunState.choices)
    done = serializers.BooleanField()
    ok = serializers.BooleanField(allow_null=True)
    named_tables = serializers.ListField(child=serializers.CharField())
    steps = serializers.ListField(child=serializers.DictField())
    result = serializers.DictField(allow_null=True, help_text="The check's outcome, principal and tables.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details (application/problem+json)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation only: the messages of each field (non_field_errors: of the whole connection).",
    )


def paginated(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of a page of `item`s, as REST framework's PageNumberPagination answers it."""
    fields = {
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": item(many=True),
    }
    return type(f"Paginated{item.__name__.removesuffix('Serializer')}List", (serializers.Serializer,), fields)
