"""The choices of a connection's fields: CRM Version, Azure Environment, Credential, Auth Scheme, Scope, the last
TEST's outcome and the health state (connections.models re-exports them)."""

from django.db import models

from connections.dynamics import schemes
from connections.health import DOWN, UNKNOWN, UP


class CrmVersion(models.TextChoices):
    CRM_ONLINE = schemes.CRM_ONLINE, "CRMOnline"
    CRM_2011 = schemes.CRM_2011, "CRM2011+"


class AzureEnvironment(models.TextChoices):
    GLOBAL = "GLOBAL", "GLOBAL (commercial, also GCC)"
    USGOVT = "USGOVT", "USGOVT (US Government GCC High)"
    USGOVTDOD = "USGOVTDOD", "USGOVTDOD (US Government DoD)"
    CHINA = "CHINA", "CHINA (operated by 21Vianet)"


class CredentialType(models.TextChoices):
    CLIENT_SECRET = "secret", "Secret (OAuthClientSecret)"
    CERTIFICATE = "certificate", "Certificate (OAuthJWTCert)"
    # AzureServicePrincipal only: nothing secret is stored for these two (connections/secretless.py).
    FEDERATED = "federated", "Federated (no secret)"
    MANAGED_IDENTITY = "managed_identity", "Managed identity (AzureMSI)"


SECRETLESS_CREDENTIALS = (CredentialType.FEDERATED, CredentialType.MANAGED_IDENTITY)


class ManagedIdentityType(models.TextChoices):
    SYSTEM = "system", "System-assigned"
    CLIENT_ID = "client_id", "User-assigned, by its application (client) ID"
    RESOURCE_ID = "resource_id", "User-assigned, by its resource ID"


class AuthScheme(models.TextChoices):
    SERVICE_PRINCIPAL = schemes.SERVICE_PRINCIPAL, "AzureServicePrincipal (application permissions)"
    AZURE_AD = schemes.AZURE_AD, "AzureAD (delegated: sign in with Microsoft)"
    # CRM2011+ (on-premises) only.
    NTLM = schemes.NTLM, "NTLM (Windows integrated authentication with a domain account)"
    ADFS = schemes.ADFS, "ADFS (OAuth with your organization's AD FS 2016 or newer)"


ONLINE_SCHEMES = schemes.ONLINE_SCHEMES
ON_PREMISES_SCHEMES = schemes.ON_PREMISES_SCHEMES


class Scope(models.TextChoices):
    PRIVATE = "private", "Private (the owner and administrators)"
    ORGANIZATION = "organization", "Organization (every signed-in user may use and TEST it)"


class TestStatus(models.TextChoices):
    NEVER = "", "Never tested"
    AVAILABLE = "available", "Available"
    UNAVAILABLE = "unavailable", "Unavailable"


class Health(models.TextChoices):
    """The connection's state (connections/health.py): Unknown until it is Up or Down."""

    UNKNOWN = UNKNOWN, "Unknown"
    UP = UP, "Up"
    DOWN = DOWN, "Down"
