"""A connection's credentials besides the current one, for rotation without downtime (connections/rotation.py).

A connection has at most one "new" credential (added, TESTed, not yet current) and one "previous" credential (the
one a promotion replaced, kept until it is discarded). Like the connection's own, they are Fernet ciphertext only,
never rendered, never logged; the certificate's public facts are kept beside it for the page.
"""

from django.conf import settings
from django.db import models

from connections import crypto
from connections.choices import CredentialType
from connections.dynamics.certificates import CertificateCredential
from connections.runs import RunState


class SlotRole(models.TextChoices):
    NEW = "new", "New"
    PREVIOUS = "previous", "Previous"


class CredentialSlot(models.Model):
    connection = models.ForeignKey("connections.Connection", on_delete=models.CASCADE, related_name="credential_slots")
    role = models.CharField(max_length=16, choices=SlotRole)
    # Only what can be rotated: a federated credential or a managed identity has no secret to add beside another.
    kind = models.CharField(
        max_length=16,
        choices=[(kind.value, kind.label) for kind in (CredentialType.CLIENT_SECRET, CredentialType.CERTIFICATE)],
    )
    # The client secret, or the certificate's key and chain (CertificateCredential.to_storage()), as ciphertext.
    credential_encrypted = models.TextField(editable=False)
    certificate_subject = models.CharField(max_length=500, blank=True, default="", editable=False)
    certificate_sha1 = models.CharField(max_length=40, blank=True, default="", editable=False)
    certificate_sha256 = models.CharField(max_length=64, blank=True, default="", editable=False)
    certificate_not_after = models.DateTimeField(null=True, blank=True, editable=False)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # A new credential: when it was added. A previous one: unknown (it was current from before rotation kept track).
    added_at = models.DateTimeField(null=True, blank=True)
    # A new credential's latest TEST (its result is the TestRun's, kept in the TEST history).
    test_run = models.ForeignKey(
        "connections.TestRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A previous credential: when a promotion replaced it, and who promoted.
    replaced_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "role"], name="credential_slot_one_per_role"),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.get_kind_display()} of connection {self.connection_id}"

    @property
    def is_certificate(self) -> bool:
        return self.kind == CredentialType.CERTIFICATE

    @property
    def label(self) -> str:
        return "certificate" if self.is_certificate else "secret"

    def set_secret(self, plaintext: str) -> None:
        self.kind = CredentialType.CLIENT_SECRET
        self.credential_encrypted = crypto.encrypt(plaintext)
        self.certificate_subject = self.certificate_sha1 = self.certificate_sha256 = ""
        self.certificate_not_after = None

    def set_certificate(self, credential: CertificateCredential) -> None:
        self.kind = CredentialType.CERTIFICATE
        self.credential_encrypted = crypto.encrypt(credential.to_storage())
        self.certificate_subject = credential.subject
        self.certificate_sha1 = credential.sha1
        self.certificate_sha256 = credential.sha256
        self.certificate_not_after = credential.not_after

    def get_credential(self) -> str | CertificateCredential:
        """The plaintext secret or the parsed certificate; raises crypto.SecretDecryptionError."""
        stored = crypto.decrypt(self.credential_encrypted)
        return CertificateCredential.from_storage(stored) if self.is_certificate else stored

    @property
    def last_test(self) -> dict | None:
        """The latest TEST's stored result (ok, code, message, finished_at…), None while none has finished."""
        run = self.test_run
        if run is None or run.state != RunState.FINISHED:
            return None
        return run.result

    @property
    def test_running(self) -> bool:
        return self.test_run is not None and self.test_run.state != RunState.FINISHED

    @property
    def passed(self) -> bool:
        return bool(self.last_test and self.last_test.get("ok"))
