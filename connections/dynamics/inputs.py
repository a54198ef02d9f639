"""Input rules shared by the form and the check: each raises InputError with a code (the form shows it by the field)."""

import re
import uuid
from urllib.parse import urlsplit, urlunsplit

from connections.dynamics.clouds import CLOUDS, cloud_for_host
from connections.dynamics.errors import InputError
from connections.dynamics.schemes import CRM_ONLINE

_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def normalize_guid(value: str, *, field: str) -> str:
    text = value.strip().strip("{}")
    try:
        parsed = uuid.UUID(text)
    except ValueError as error:
        raise InputError(
            f"Enter the {field} as a GUID, like 00000000-0000-0000-0000-000000000000.",
            code="invalid_guid",
        ) from error
    if len(text) != 36:
        raise InputError(f"Enter the {field} in its usual 8-4-4-4-12 form.", code="invalid_guid")
    return str(parsed)


def normalize_tenant(value: str) -> str:
    text = value.strip().lower().rstrip(".")
    if re.fullmatch(r"\{?[0-9a-f-]{32,38}\}?", text):
        return normalize_guid(text, field="AzureTenant")
    if text in ("common", "organizations", "consumers"):
        raise InputError(
            "Enter your own tenant: its Directory (tenant) ID or a domain such as "
            "contoso.onmicrosoft.com, not '%(value)s'.",
            code="generic_tenant",
            params={"value": text},
        )
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        text = ""
    if not _DOMAIN.match(text):
        raise InputError(
            "Enter the Directory (tenant) ID (a GUID) or a domain of the tenant, "
            "like contoso.onmicrosoft.com or a verified custom domain.",
            code="invalid_tenant",
        )
    return text


def normalize_url(value: str, crm_version: str) -> str:
    """Absolute, no credentials, query or fragment; lower-case host; the organization root with a trailing slash."""
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
        host = _ascii_host(parts.hostname or "")
    except (ValueError, UnicodeError) as error:
        raise InputError("Enter a valid URL, like https://contoso.crm.dynamics.com/.", code="invalid_url") from error
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise InputError(
            "Enter an absolute URL starting with https://, like https://contoso.crm.dynamics.com/.",
            code="not_absolute",
        )
    if parts.username is not None or parts.password is not None:
        raise InputError(
            "Remove the user name and password from the URL; credentials go in their own fields.",
            code="credentials_in_url",
        )
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise InputError(
            "Remove the part after ? or # from the URL: enter only the organization's root URL.",
            code="query_in_url",
        )
    scheme = parts.scheme.lower()
    if crm_version == CRM_ONLINE:
        return _online_root(scheme, host, port)
    netloc = _netloc(host, port, scheme)
    path = parts.path.rstrip("/") + "/"
    return urlunsplit((scheme, netloc, path, "", ""))


def _online_root(scheme: str, host: str, port: int | None) -> str:
    if scheme != "https":
        raise InputError("For CRMOnline the URL must start with https://.", code="https_required")
    if port not in (None, 443):
        raise InputError(
            "For CRMOnline leave the port out of the URL (Dataverse answers on 443 only).",
            code="port_not_allowed",
        )
    return f"https://{host}/"


def check_online_host(url: str, azure_environment: str) -> None:
    """A CRMOnline URL must be in a Dataverse domain of the chosen Azure environment."""
    host = urlsplit(url).hostname or ""
    cloud = CLOUDS[azure_environment]
    if cloud.is_dataverse_host(host):
        return
    other = cloud_for_host(host)
    if other is not None:
        raise InputError(
            "This URL belongs to the %(other)s Azure environment: choose %(other)s as the "
            "Azure Environment, or check the URL.",
            code="wrong_cloud",
            params={"other": other.name},
        )
    raise InputError(
        "Enter your Dataverse environment URL, like %(example)s (Power Platform admin center > "
        "Environments > your environment > Environment URL).",
        code="not_dataverse",
        params={"example": cloud.example_url},
    )


def _ascii_host(host: str) -> str:
    host = host.rstrip(".").lower()
    if not host or host.startswith("["):
        return host
    if ":" in host:  # IPv6 literal (urlsplit removed the brackets)
        return f"[{host}]"
    ascii_host = host.encode("idna").decode("ascii")
    if not all(_HOST_LABEL.match(label) for label in ascii_host.split(".")):
        raise ValueError(host)
    return ascii_host


def _netloc(host: str, port: int | None, scheme: str) -> str:
    default = 443 if scheme == "https" else 80
    return host if port in (None, default) else f"{host}:{port}"


# --- CRM2011+ (on-premises) --------------------------------------------------------------------

# DOMAIN\name: a NetBIOS or DNS domain, then a sAMAccountName (no \ / [ ] : ; | = , + * ? < > @ ").
_DOWN_LEVEL_USER = re.compile(r"^[^\\/:*?\"<>|@\s][^\\/:*?\"<>|@\s]{0,254}\\[^\\/\[\]:;|=,+*?<>@\"]{1,104}$")
_UPN_USER = re.compile(r"^[^\\/\s@\"]{1,104}@[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$", re.IGNORECASE)
_ADFS_PATHS = (
    "",
    "/adfs",
    "/adfs/ls",
    "/adfs/oauth2/token",
    "/adfs/oauth2/authorize",
    "/adfs/.well-known/openid-configuration",
)


def normalize_windows_user(value: str) -> str:
    """A Windows account as NTLM sends it: DOMAIN\\name (down-level) or name@domain (UPN)."""
    text = value.strip()
    printable = not any(ord(ch) < 32 or ord(ch) == 127 for ch in text)
    if printable and (_DOWN_LEVEL_USER.match(text) or _UPN_USER.match(text)):
        return text
    raise InputError(
        "Enter the User as DOMAIN\\name (like CONTOSO\\maria) or name@domain (like maria@contoso.com).",
        code="invalid_windows_user",
    )


def normalize_adfs_url(value: str) -> str:
    """The AD FS federation service as msal wants it: https://host[:port]/adfs (a host alone is enough)."""
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
        host = _ascii_host(parts.hostname or "")
    except (ValueError, UnicodeError):
        host, parts, port = "", None, None
    path = parts.path.rstrip("/").lower() if parts else ""
    if not host or parts.scheme.lower() != "https" or path not in _ADFS_PATHS or parts.query or parts.username:
        raise InputError(
            "Enter the AD FS address with https://, like https://adfs.contoso.com/adfs.", code="invalid_adfs_url"
        )
    return f"https://{_netloc(host, port, 'https')}/adfs"


def default_adfs_resource(org_url: str) -> str:
    """The relying party AD FS knows the CRM server by, unless the admin says otherwise: the server's root URL."""
    parts = urlsplit(org_url)
    return f"{parts.scheme}://{parts.netloc}/"


def check_adfs_resource(value: str) -> str:
    """A relying-party identifier: kept exactly as typed (AD FS compares it character for character)."""
    text = value.strip()
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise InputError(
            "The AD FS Resource is one identifier without spaces, like https://auth.crm.contoso.com/.",
            code="invalid_adfs_resource",
        )
    return text
