"""What the views, the admin and the commands do with connections: TEST them, sign in to Microsoft,
and record the outcome."""

import dataclasses
import threading
from collections import defaultdict
from contextlib import contextmanager

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connections import crypto
from connections.crypto import SecretDecryptionError
from connections.dynamics import check, delegated, http, network
from connections.dynamics.clouds import CLOUDS
from connections.dynamics.errors import CheckError
from connections.dynamics.inputs import normalize_guid, normalize_tenant
from connections.models import AuthScheme, Connection, CredentialType

# One refresh at a time per connection in this process; the row lock covers other processes.
_token_locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)


@sensitive_variables("secret", "password")
def _credential(connection: Connection, secret: str = "", certificate=None, password: str = ""):
    if connection.auth_scheme == AuthScheme.NTLM:
        return password or connection.get_windows_password()
    if connection.credential_type == CredentialType.CERTIFICATE and connection.auth_scheme != AuthScheme.ADFS:
        return certificate or connection.get_certificate()
    return secret or connection.get_client_secret()


@sensitive_variables("secret", "password", "credential")
def params_for(connection: Connection, secret: str = "", certificate=None, password: str = "") -> check.CheckParams:
    """Check parameters for a connection; typed-in credentials win over the stored ones."""
    credential = _credential(connection, secret, certificate, password)
    return check.CheckParams(
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
    )


# What to enter again when the stored credential is missing or unreadable, by Auth Scheme.
CREDENTIAL_FIELDS = {AuthScheme.NTLM: "the Password", AuthScheme.ADFS: "the Client Secret"}


@sensitive_variables("secret", "certificate", "password", "params")
def run_check(connection: Connection, secret: str = "", certificate=None, password: str = "") -> check.CheckResult:
    """TEST a connection (saved or as typed); an AzureAD refresh is stored at once, under a lock.

    `secret`, `certificate` and `password` (NTLM) are typed-in credentials that win over the stored ones."""
    steps = {"crm_version": connection.crm_version, "auth_scheme": connection.auth_scheme}
    what = CREDENTIAL_FIELDS.get(connection.auth_scheme, "the Client Secret or upload the certificate")
    try:
        params = params_for(connection, secret, certificate, password)
    except SecretDecryptionError as error:
        retype = CREDENTIAL_FIELDS.get(connection.auth_scheme, "the Client Secret")
        return check.not_run(
            "secret_unreadable", str(error), f"Enter {retype} again (edit the connection) and TEST.", **steps
        )
    if not params.credential:
        return check.not_run(
            "no_credential",
            "No credential is stored for this connection.",
            f"Edit the connection and enter {what}.",
            **steps,
        )
    if not connection.is_delegated or not connection.pk:
        return check.run(params)
    with locked_token_cache(connection.pk) as stored:
        result = check.run(dataclasses.replace(params, token_cache=stored.get_token_cache()))
        if result.updated_token_cache:
            _store_token_cache(stored, result.updated_token_cache)
    return result


def test_saved(connection: Connection) -> check.CheckResult:
    """TEST a saved connection with its stored credential and record the outcome on it."""
    result = run_check(connection)
    connection.record_test(result)
    return result


@contextmanager
def locked_token_cache(pk: int):
    """The connection's row, locked while its token cache is read, refreshed and written back.

    Two TESTs refreshing at once would otherwise both redeem the same refresh token and the slower
    one could overwrite the newer refresh token with an older answer.
    """
    with _token_locks[pk], transaction.atomic():
        yield (
            Connection.objects.select_for_update().only("pk", "token_cache_encrypted", "token_cache_version").get(pk=pk)
        )


def _store_token_cache(stored: Connection, token_cache: str, **identity) -> None:
    updated = Connection.objects.filter(pk=stored.pk, token_cache_version=stored.token_cache_version).update(
        token_cache_encrypted=crypto.encrypt(token_cache) if token_cache else "",
        token_cache_version=F("token_cache_version") + 1,
        **identity,
    )
    if not updated:  # cannot happen under the lock; never overwrite a newer cache silently
        raise RuntimeError("The stored sign-in changed during the update.")


@sensitive_variables("params")
def start_sign_in(connection: Connection, redirect_uri: str) -> dict:
    """Begin the authorization-code flow (PKCE, state, nonce); raises CheckError with advice."""
    params = params_for(connection)
    cloud = CLOUDS[connection.azure_environment]
    return _bounded(
        f"https://{cloud.authority_host}/",
        lambda: delegated.start(
            cloud,
            normalize_tenant(params.azure_tenant),
            normalize_guid(params.client_id, field="Client ID"),
            params.credential,
            connection.url,
            redirect_uri,
        ),
    )


@sensitive_variables("params", "signed_in")
def finish_sign_in(connection: Connection, flow: dict, response: dict) -> delegated.SignedIn:
    """Redeem the code sent to the callback and keep msal's token cache (encrypted) on the connection."""
    params = params_for(connection)
    cloud = CLOUDS[connection.azure_environment]
    signed_in = _bounded(
        f"https://{cloud.authority_host}/",
        lambda: delegated.finish(
            cloud,
            normalize_tenant(params.azure_tenant),
            normalize_guid(params.client_id, field="Client ID"),
            params.credential,
            flow,
            response,
        ),
    )
    with locked_token_cache(connection.pk) as stored:
        _store_token_cache(
            stored,
            signed_in.token_cache,
            signed_in_name=signed_in.name[:255],
            signed_in_username=signed_in.username[:255],
            signed_in_tenant=signed_in.tenant_id[:64],
            signed_in_at=timezone.now(),
        )
    return signed_in


def sign_out(connection: Connection) -> None:
    """Forget the stored tokens and who signed in."""
    with locked_token_cache(connection.pk) as stored:
        _store_token_cache(stored, "", signed_in_name="", signed_in_username="", signed_in_tenant="", signed_in_at=None)


def _bounded(url: str, action):
    """Run an Entra call of a sign-in under the TEST time budget, turning network errors into CheckError."""
    deadline = check.new_deadline()
    with http.budget(deadline):
        try:
            return action()
        except CheckError:
            raise
        except Exception as error:  # noqa: BLE001 - requests, urllib3 and guard errors at the client edge
            raise network.classify(error, url, deadline) from None
