"""Tokens from Microsoft Entra ID with msal: one ConfidentialClientApplication per tenant, app and credential."""

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import msal
import requests

from connections.dynamics import http
from connections.dynamics.certificates import CertificateCredential
from connections.dynamics.clouds import Cloud
from connections.dynamics.errors import CheckError, entra_error
from connections.dynamics.federated import FederatedCredential, explain

MAX_APPS = 256


@dataclass(frozen=True)
class Token:
    access_token: str
    from_cache: bool

    def __repr__(self) -> str:  # never show the token in a traceback or log
        return f"Token(from_cache={self.from_cache})"


class AppCache:
    """A small LRU of msal applications (or managed-identity clients): their token caches and authority metadata
    are the speed-up."""

    def __init__(self, size: int = MAX_APPS):
        self._apps: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, key):
        with self._lock:
            app = self._apps.get(key)
            if app is not None:
                self._apps.move_to_end(key)
            return app

    def put(self, key, app) -> None:
        with self._lock:
            self._apps[key] = app
            self._apps.move_to_end(key)
            while len(self._apps) > self._size:
                self._apps.popitem(last=False)

    def discard(self, key) -> None:
        with self._lock:
            self._apps.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._apps.clear()

    def forget_credential(self, fingerprint: str) -> int:
        """Drop every app (and the tokens it holds) built with this credential; how many were dropped."""
        with self._lock:
            stale = [key for key in self._apps if key[-1] == fingerprint]
            for key in stale:
                del self._apps[key]
            return len(stale)


apps = AppCache()


class _CurrentCredentials:
    """Which credential each saved connection last TESTed with as its own, in this process (fingerprints only).

    A promotion (or an edit) happens in another process: a worker learns of it when the connection's next TEST
    comes with another credential, and drops the apps of the one it replaced (docs/decisions/0006)."""

    def __init__(self, size: int = 4 * MAX_APPS):
        self._fingerprints: OrderedDict[object, str] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def use(self, owner, credential) -> int:
        """`owner` (a connection's id) TESTs with `credential` now; drops the apps of the one it used before."""
        fingerprint = credential_fingerprint(credential)
        with self._lock:
            before = self._fingerprints.get(owner)
            self._fingerprints[owner] = fingerprint
            self._fingerprints.move_to_end(owner)
            while len(self._fingerprints) > self._size:
                self._fingerprints.popitem(last=False)
        return apps.forget_credential(before) if before and before != fingerprint else 0

    def clear(self) -> None:
        with self._lock:
            self._fingerprints.clear()


current_credentials = _CurrentCredentials()


def retire_credential(credential) -> int:
    """Drop this process's apps built with a credential that is no longer in use (a promotion replaced it)."""
    return apps.forget_credential(credential_fingerprint(credential))


def credential_fingerprint(credential) -> str:
    """Identifies a credential in memory without keeping it as a key: a new secret means a new app."""
    if isinstance(credential, CertificateCredential):
        material = "cert:" + credential.sha256 + hashlib.sha256(credential.private_key_pem.encode()).hexdigest()
    elif isinstance(credential, FederatedCredential):
        material = "federated:" + "\n".join((credential.issuer, credential.subject, credential.audience))
    elif isinstance(credential, str):
        material = "secret:" + credential
    else:  # a managed_identity.ManagedIdentity (which imports this module): its name, there is no secret
        material = credential.fingerprint_material()
    return hashlib.sha256(material.encode()).hexdigest()


def acquire_token(cloud: Cloud, tenant: str, client_id: str, credential, resource_url: str) -> Token:
    """An app-only token for `{resource_url}/.default`; raises CheckError with advice when refused."""
    key = (cloud.authority_host, tenant, client_id, credential_fingerprint(credential))
    app = apps.get(key) or build_app(cloud, tenant, client_id, credential)
    try:
        result = app.acquire_token_for_client(scopes=[resource_url.rstrip("/") + "/.default"])
    except (msal.exceptions.MsalError, requests.HTTPError, ValueError) as error:
        # msal raises instead of returning an error for 5xx and unreadable answers.
        apps.discard(key)
        raise _unexpected_answer(cloud, credential) from error
    if "access_token" in result:
        apps.put(key, app)
        return Token(result["access_token"], from_cache=result.get("token_source") == "cache")
    # A failed app is not kept: msal would replay a cached 400 for a minute after the admin fixes it.
    apps.discard(key)
    failed = last_failed_exchange()
    raise _refusal(result, credential, cloud, failed.status if failed else None)


def build_app(
    cloud: Cloud, tenant: str, client_id: str, credential, token_cache=None, http_cache=None
) -> msal.ConfidentialClientApplication:
    """An msal confidential client over our guarded, time-bounded HTTP client."""
    has_own = isinstance(credential, (CertificateCredential, FederatedCredential))
    client_credential = credential.msal_credential() if has_own else credential
    try:
        return msal.ConfidentialClientApplication(
            client_id,
            client_credential=client_credential,
            authority=f"https://{cloud.authority_host}/{tenant}",
            instance_discovery=False,
            http_client=http.client,
            token_cache=token_cache or msal.TokenCache(),
            http_cache=http_cache,
        )
    except (ValueError, RuntimeError, msal.exceptions.MsalError, requests.HTTPError) as error:
        # ValueError: tenant unknown; MsalServiceError/HTTPError: 5xx; RuntimeError: a redirect.
        raise _discovery_error(cloud) from error


def _discovery_error(cloud: Cloud) -> CheckError:
    """msal raises a bare ValueError when the tenant's OpenID configuration cannot be read."""
    failed = last_failed_exchange()
    status = f" (HTTP {failed.status})" if failed else ""
    if failed is not None and not failed.error_body and (failed.status >= 500 or failed.status < 400):
        return CheckError(
            "entra_unavailable",
            "Microsoft Entra ID answered the request for the tenant's sign-in configuration with "
            f"HTTP {failed.status}.",
            "Microsoft Entra ID may be having an outage: check https://status.azure.com and TEST again later.",
            {"http_status": str(failed.status)},
        )
    return _from_answer(failed, cloud) or CheckError(
        "tenant_not_found",
        f"Microsoft Entra ID could not find the tenant's sign-in configuration{status}.",
        "Check AzureTenant (the Directory (tenant) ID or a verified domain) and the Azure Environment.",
    )


def _unexpected_answer(cloud: Cloud, credential=None) -> CheckError:
    """msal raises instead of returning an error for 5xx and unreadable token answers."""
    failed = last_failed_exchange()
    status = f"HTTP {failed.status}" if failed else "an unreadable answer"
    return _from_answer(failed, cloud, credential) or CheckError(
        "entra_error",
        f"Microsoft Entra ID answered the token request with {status}.",
        "Microsoft Entra ID may be having an outage: check https://status.azure.com and TEST again later.",
        {"http_status": str(failed.status)} if failed else {},
    )


def _from_answer(failed: http.Exchange | None, cloud: Cloud, credential=None) -> CheckError | None:
    """Entra's own error JSON, when the failed answer carried one."""
    if failed is not None and failed.error_body:
        return _refusal(failed.error_body, credential, cloud, failed.status)
    return None


def _refusal(body: dict, credential, cloud: Cloud, status: int | None) -> CheckError:
    """Entra ID's error as advice; a federated assertion's refusal names which of its values differs."""
    if isinstance(credential, FederatedCredential):
        return explain(body, credential, cloud.name, status)
    return entra_error(body, cloud.name, status)


def last_failed_exchange() -> http.Exchange | None:
    return next((e for e in reversed(http.exchanges()) if e.status and e.status >= 300), None)
