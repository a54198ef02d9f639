"""The saved Dynamics CRM connection. Secrets are stored only as Fernet ciphertext."""

import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Lower, Replace
from django.urls import reverse

from connections import outcomes
from connections.access_checks import AccessCheck  # noqa: F401 - Check access's model, in a module of its own
from connections.choices import (  # noqa: F401 - the choices are imported from here too
    ON_PREMISES_SCHEMES,
    ONLINE_SCHEMES,
    AuthScheme,
    AzureEnvironment,
    CredentialType,
    CrmVersion,
    Health,
    ManagedIdentityType,
    Scope,
    TestStatus,
)
from connections.connection_credentials import ConnectionCredentials
from connections.credential_slots import CredentialSlot  # noqa: F401 - rotation's model, in a module of its own
from connections.health import Change
from connections.indexes import SortIndex
from connections.runs import TestRun  # noqa: F401 - the background TEST's model, in a module of its own

# The URL as the Connections page sorts it (connections/views.py SORTS["url"]): its host first, whatever the scheme.
# tests/test_list_scale.py checks that each sort index is the expression the page orders by.
URL_HOST_SORT = Replace(Replace("url", Value("https://"), Value("")), Value("http://"), Value(""))


class ConnectionQuerySet(models.QuerySet):
    def with_owner(self):
        return self.select_related("owner")


class Connection(ConnectionCredentials, models.Model):
    name = models.CharField("Connection Name", max_length=100)
    # Blank for NTLM, which has no OAuth client.
    client_id = models.CharField("Client ID", max_length=36, blank=True, default="")
    url = models.CharField("URL", max_length=2048)
    crm_version = models.CharField("CRM Version", max_length=16, choices=CrmVersion, default=CrmVersion.CRM_ONLINE)
    # Blank for CRM2011+ (on-premises servers do not use Microsoft Entra ID).
    azure_tenant = models.CharField("AzureTenant", max_length=255, blank=True, default="")
    azure_environment = models.CharField(
        "Azure Environment", max_length=16, choices=AzureEnvironment, default=AzureEnvironment.GLOBAL
    )
    auth_scheme = models.CharField(
        "Auth Scheme", max_length=32, choices=AuthScheme, default=AuthScheme.SERVICE_PRINCIPAL
    )
    callback_url = models.CharField("Callback URL", max_length=2048, blank=True, default="")
    # CRM2011+ with NTLM: the Windows account (DOMAIN\name or name@domain); its password is ciphertext only.
    windows_user = models.CharField("User", max_length=255, blank=True, default="")
    windows_password_encrypted = models.TextField(blank=True, default="", editable=False)
    # CRM2011+ with ADFS: the federation service and the relying party the CRM server is known by there.
    adfs_url = models.CharField("AD FS Server", max_length=2048, blank=True, default="")
    adfs_resource = models.CharField("AD FS Resource", max_length=2048, blank=True, default="")
    credential_type = models.CharField(
        "Credential", max_length=16, choices=CredentialType, default=CredentialType.CLIENT_SECRET
    )
    # Ciphertext only (Fernet). Never rendered, never logged.
    client_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    certificate_encrypted = models.TextField(blank=True, default="", editable=False)
    # AzureAD: msal's serialized token cache (refresh token included), ciphertext only.
    token_cache_encrypted = models.TextField(blank=True, default="", editable=False)
    token_cache_version = models.PositiveIntegerField(default=0, editable=False)
    signed_in_name = models.CharField(max_length=255, blank=True, default="", editable=False)
    signed_in_username = models.CharField(max_length=255, blank=True, default="", editable=False)
    signed_in_tenant = models.CharField(max_length=64, blank=True, default="", editable=False)
    signed_in_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Public facts about the stored certificate, shown on the connection page.
    certificate_subject = models.CharField(max_length=500, blank=True, default="", editable=False)
    certificate_sha1 = models.CharField(max_length=40, blank=True, default="", editable=False)
    certificate_sha256 = models.CharField(max_length=64, blank=True, default="", editable=False)
    certificate_not_after = models.DateTimeField(null=True, blank=True, editable=False)
    # Federated (no secret): the subject this site's issuer signs assertions for (connections/secretless.py): given
    # once, never reused, and kept when the credential changes (switching back needs no new registration).
    federated_subject = models.CharField(max_length=100, unique=True, null=True, blank=True, editable=False)
    # Managed identity: the deployment's system-assigned identity, or a user-assigned one by client or resource ID.
    managed_identity_type = models.CharField(
        "Managed identity", max_length=16, choices=ManagedIdentityType, default=ManagedIdentityType.SYSTEM, blank=True
    )
    managed_identity_id = models.CharField("Identity ID", max_length=400, blank=True, default="")
    # When the app credential expires (connections/expiry.py): as Microsoft Graph said in a TEST of the saved
    # credential, when it said so, and of which credential ("secret:" + its hint, or "certificate:" + thumbprint);
    # or, for a client secret, the date an admin typed from the portal.
    credential_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    credential_expiry_read_at = models.DateTimeField(null=True, blank=True, editable=False)
    credential_expiry_of = models.CharField(max_length=64, blank=True, default="", editable=False)
    secret_expires_on = models.DateField(
        "Secret expires",
        null=True,
        blank=True,
        help_text="Optional: the date in the Expires column of the app registration's Certificates & secrets page. "
        "Not needed when the app may read its own credentials (Microsoft Graph's Application.Read.All).",
    )
    # The last level of the expiry digest sent for this connection (connections/expiry.py), claimed atomically.
    expiry_warned_level = models.PositiveSmallIntegerField(default=0, editable=False)

    scope = models.CharField(
        "Scope",
        max_length=16,
        choices=Scope,
        default=Scope.PRIVATE,
        help_text="Only the owner and administrators may edit or delete a connection, or replace its secrets.",
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="dynamics_connections")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set from the hidden token of the form that created the row: a re-POST finds it again.
    creation_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    last_test_status = models.CharField(
        max_length=16, choices=TestStatus, default=TestStatus.NEVER, blank=True, editable=False
    )
    last_tested_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_test_message = models.TextField(blank=True, default="", editable=False)
    last_test_steps = models.JSONField(default=list, blank=True, editable=False)
    # Changed only by record_test, under the row's lock: Down after HEALTH_DOWN_AFTER failed TESTs in a row.
    health = models.CharField(max_length=8, choices=Health, default=Health.UNKNOWN, blank=True, editable=False)
    failures_in_a_row = models.PositiveIntegerField(default=0, editable=False)
    # The next scheduled re-test (connections/schedule.py claims it with a compare-and-set UPDATE); None until the
    # schedule first spreads it over an interval. A 429 or a low Dataverse budget puts it back.
    next_test_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Dataverse's service protection budget as the last TEST that reached it saw it (protection.summary + seen_at).
    service_protection = models.JSONField(default=dict, blank=True, editable=False)

    objects = ConnectionQuerySet.as_manager()

    class Meta:
        ordering = [Lower("name")]
        # The Connections page's sorts (connections/views.py SORTS, with its pk tiebreaker and nulls placement),
        # one index per direction (descending keeps pk ascending): each page reads its rows from an index instead
        # of sorting every row. The owner sort's index is on the users' table (migration 0006). `scope, owner`
        # lets PostgreSQL count a plain user's visible rows (owner or organization) from the index alone. The search's
        # trigram indexes are PostgreSQL's only (migration 0007).
        indexes = [
            SortIndex(Lower("name").asc(nulls_first=True), F("id").asc(), name="connection_sort_name"),
            SortIndex(Lower("name").desc(nulls_last=True), F("id").asc(), name="connection_sort_name_desc"),
            SortIndex(F("crm_version").asc(nulls_first=True), F("id").asc(), name="connection_sort_version"),
            SortIndex(F("crm_version").desc(nulls_last=True), F("id").asc(), name="connection_sort_version_desc"),
            SortIndex(URL_HOST_SORT.asc(nulls_first=True), F("id").asc(), name="connection_sort_url"),
            SortIndex(URL_HOST_SORT.desc(nulls_last=True), F("id").asc(), name="connection_sort_url_desc"),
            SortIndex(F("azure_tenant").asc(nulls_first=True), F("id").asc(), name="connection_sort_tenant"),
            SortIndex(F("azure_tenant").desc(nulls_last=True), F("id").asc(), name="connection_sort_tenant_desc"),
            SortIndex(F("last_tested_at").asc(nulls_first=True), F("id").asc(), name="connection_sort_tested"),
            SortIndex(F("last_tested_at").desc(nulls_last=True), F("id").asc(), name="connection_sort_tested_desc"),
            models.Index(fields=["scope", "owner"], name="connection_visibility"),
            models.Index(fields=["next_test_at"], name="connection_schedule_due"),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="connection_name_unique_ci",
                violation_error_message="A connection with this name already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        """A row read from the database gets back only the columns changed since: the worker (a TEST's outcome, a
        refreshed Microsoft token) and the Microsoft sign-in write the same row while it is being edited, and a
        whole-row save would put back the values it read."""
        loaded = getattr(self, "_loaded_values", {})
        same_row = not self._state.adding and self.pk is not None and self.pk == loaded.get("id")
        if same_row and not args and kwargs.get("update_fields") is None:
            changed = [name for name, value in loaded.items() if name != "id" and getattr(self, name) != value]
            kwargs["update_fields"] = [*changed, "updated_at"]
        super().save(*args, **kwargs)  # Connection.NotUpdated if it was deleted meanwhile (not inserted again)
        deferred = self.get_deferred_fields()
        fields = [field.attname for field in self._meta.concrete_fields if field.attname not in deferred]
        self._loaded_values = {name: getattr(self, name) for name in fields}

    def get_absolute_url(self) -> str:
        return reverse("connections:detail", args=[self.pk])

    @classmethod
    def from_db(cls, db, field_names, values, *, fetch_mode=None):
        connection = super().from_db(db, field_names, values, fetch_mode=fetch_mode)
        connection._loaded_values = dict(zip(field_names, values, strict=True))
        return connection

    @property
    def url_host(self) -> str:
        return urlsplit(self.url).hostname or ""

    def record_test(self, result) -> Change | None:
        """Save the outcome of a TEST of the saved settings (a connections.dynamics.check.CheckResult) and move the
        health state under the row's lock; a change of state is announced once the transaction commits
        (connections/outcomes.py).

        Every TEST that counts comes here, and only those: the worker's (background._record, which leaves out the
        Edit form's TESTs of typed values), the command line's (testing.test_saved) and the New connection form's
        TEST that CREATE adopts (history.adopt_form_test)."""
        return outcomes.record(self, result)

    @staticmethod
    def new_creation_token() -> uuid.UUID:
        return uuid.uuid4()
