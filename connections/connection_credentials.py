"""What a connection's CRM Version, Auth Scheme and Credential make it use, and its stored credentials: a mixin of
connections.models.Connection (no fields of its own). Secrets are stored only as Fernet ciphertext."""

from django.utils import timezone

from connections import crypto
from connections.choices import AuthScheme, CredentialType, CrmVersion, ManagedIdentityType
from connections.dynamics.certificates import CertificateCredential


class ConnectionCredentials:
    @property
    def has_client_secret(self) -> bool:
        return bool(self.client_secret_encrypted)

    @property
    def certificate_expired(self) -> bool:
        return bool(self.certificate_not_after and self.certificate_not_after <= timezone.now())

    @property
    def has_certificate(self) -> bool:
        return bool(self.certificate_encrypted)

    def set_client_secret(self, plaintext: str) -> None:
        self.client_secret_encrypted = crypto.encrypt(plaintext)
        self._forget_expiry_reading()

    def _forget_expiry_reading(self) -> None:
        """A new credential: the reading of the old one's expiry, and the warnings sent for it, no longer count."""
        self.credential_expires_at = self.credential_expiry_read_at = None
        self.credential_expiry_of = ""
        self.expiry_warned_level = 0

    def get_client_secret(self) -> str:
        return crypto.decrypt(self.client_secret_encrypted) if self.client_secret_encrypted else ""

    @property
    def is_on_premises(self) -> bool:
        return self.crm_version == CrmVersion.CRM_2011

    @property
    def uses_ntlm(self) -> bool:
        return self.auth_scheme == AuthScheme.NTLM

    @property
    def uses_adfs(self) -> bool:
        return self.auth_scheme == AuthScheme.ADFS

    @property
    def has_windows_password(self) -> bool:
        return bool(self.windows_password_encrypted)

    def set_windows_password(self, plaintext: str) -> None:
        self.windows_password_encrypted = crypto.encrypt(plaintext)

    def get_windows_password(self) -> str:
        return crypto.decrypt(self.windows_password_encrypted) if self.windows_password_encrypted else ""

    def drop_unused_settings(self) -> None:
        """Blank what the CRM Version and Auth Scheme do not use, secrets included: keep nothing that nothing needs."""
        if self.is_on_premises:
            self.azure_tenant = ""
        if self.uses_ntlm:
            self.client_id = ""
            self.client_secret_encrypted = ""
        else:
            self.windows_user = ""
            self.windows_password_encrypted = ""
        if not self.uses_adfs:
            self.adfs_url = self.adfs_resource = ""
        if not self.is_delegated:
            self.token_cache_encrypted = ""
            self.signed_in_name = self.signed_in_username = self.signed_in_tenant = ""
            self.signed_in_at = None
        if self.uses_certificate or self.uses_ntlm or self.is_secretless:
            self.secret_expires_on = None  # typed for a client secret only
        if self.uses_certificate or self.is_secretless:
            self.client_secret_encrypted = ""
        if not self.uses_certificate:
            self._drop_certificate()
        if not self.uses_managed_identity:
            self.managed_identity_type, self.managed_identity_id = ManagedIdentityType.SYSTEM, ""
        if self.is_secretless:
            self._forget_expiry_reading()  # nothing that expires

    def _drop_certificate(self) -> None:
        self.certificate_encrypted = ""
        self.certificate_subject = self.certificate_sha1 = self.certificate_sha256 = ""
        self.certificate_not_after = None

    @property
    def uses_certificate(self) -> bool:
        """OAuthJWTCert: CRMOnline's AzureServicePrincipal or AzureAD app with a certificate (never on-premises)."""
        return self.credential_type == CredentialType.CERTIFICATE and not self.is_on_premises

    @property
    def uses_federated(self) -> bool:
        """Federated (no secret): AzureServicePrincipal signing in with an assertion of this site's issuer."""
        return self.credential_type == CredentialType.FEDERATED and self.is_service_principal

    @property
    def uses_managed_identity(self) -> bool:
        return self.credential_type == CredentialType.MANAGED_IDENTITY and self.is_service_principal

    @property
    def is_secretless(self) -> bool:
        """Nothing secret is stored: the credential is a federated assertion or the deployment's managed identity."""
        return self.uses_federated or self.uses_managed_identity

    @property
    def is_service_principal(self) -> bool:
        return self.auth_scheme == AuthScheme.SERVICE_PRINCIPAL and not self.is_on_premises

    @property
    def is_delegated(self) -> bool:
        return self.auth_scheme == AuthScheme.AZURE_AD

    @property
    def is_signed_in(self) -> bool:
        return bool(self.token_cache_encrypted)

    def get_token_cache(self) -> str:
        return crypto.decrypt(self.token_cache_encrypted) if self.token_cache_encrypted else ""

    def set_certificate(self, credential) -> None:
        """Store a parsed certificate credential (connections.dynamics.certificates.CertificateCredential)."""
        self.certificate_encrypted = crypto.encrypt(credential.to_storage())
        self.certificate_subject = credential.subject
        self.certificate_sha1 = credential.sha1
        self.certificate_sha256 = credential.sha256
        self.certificate_not_after = credential.not_after
        self._forget_expiry_reading()

    def get_certificate(self) -> CertificateCredential | None:
        if not self.certificate_encrypted:
            return None
        return CertificateCredential.from_storage(crypto.decrypt(self.certificate_encrypted))
