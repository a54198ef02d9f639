"""AzureAD (delegated) connections: sign in to Microsoft, keep msal's token cache encrypted, refresh under a lock.

The views in `sign_in.py` call these; `testing.py` TESTs an AzureAD connection with `locked_token_cache`.
"""

import dataclasses
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connections import crypto
from connections.credentials import params_for
from connections.dynamics import classify, delegated, http
from connections.dynamics.clouds import CLOUDS
from connections.dynamics.errors import CheckError, InputError
from connections.dynamics.inputs import normalize_guid, normalize_tenant
from connections.limits import test_limits
from connections.models import Connection

logger = logging.getLogger(__name__)
TOKEN_FIELDS = ("pk", "token_cache_encrypted", "token_cache_version")
# One refresh at a time per connection in this process; the row lock covers other processes.
_token_locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)


@contextmanager
def locked_token_cache(pk: int):
    """The connection's row, locked while its token cache is read, refreshed and written back.

    Two TESTs refreshing at once would otherwise both redeem the same refresh token and the slower one could
    overwrite the newer refresh token with an older answer. In one process a lock serialises them; across
    processes PostgreSQL's row lock does. SQLite has no row lock, and an (immediate) transaction held while
    Microsoft answers would hold the whole database: there the write back is a compare-and-set on the version.
    """
    with _token_locks[pk]:
        if not db_connection.features.has_select_for_update:
            yield Connection.objects.only(*TOKEN_FIELDS).get(pk=pk)
            return
        with transaction.atomic():
            yield Connection.objects.select_for_update().only(*TOKEN_FIELDS).get(pk=pk)


@sensitive_variables("params", "token_cache")
def run_signed_in(pk: int, params, run):
    """`run(params)` with the connection's stored sign-in (msal's cache) as `params.token_cache`, under its lock; a
    refreshed cache in the result (`updated_token_cache`) is stored at once. For a TEST, a Check access, a Preview.

    Raises crypto.SecretDecryptionError when the stored sign-in cannot be read (only a new sign-in helps)."""
    with locked_token_cache(pk) as stored:
        token_cache = stored.get_token_cache()
        result = run(dataclasses.replace(params, token_cache=token_cache))
        if result.updated_token_cache:
            store_token_cache(stored, result.updated_token_cache)
    return result


def store_token_cache(stored: Connection, token_cache: str, **identity) -> bool:
    """Write the cache back as a compare-and-set on its version; False (and nothing written) if another process
    stored a newer one meanwhile: never overwrite a newer cache silently."""
    updated = Connection.objects.filter(pk=stored.pk, token_cache_version=stored.token_cache_version).update(
        token_cache_encrypted=crypto.encrypt(token_cache) if token_cache else "",
        token_cache_version=F("token_cache_version") + 1,
        **identity,
    )
    if not updated:
        logger.warning("Connection %s: a newer Microsoft sign-in was stored meanwhile; kept it.", stored.pk)
    return bool(updated)


@sensitive_variables("params")
def start_sign_in(connection: Connection, redirect_uri: str) -> dict:
    """Begin the authorization-code flow (PKCE, state, nonce); raises CheckError with advice."""
    params = params_for(connection)
    cloud = CLOUDS[connection.azure_environment]
    return _bounded(
        f"https://{cloud.authority_host}/",
        lambda: delegated.start(cloud, *_app_identity(connection), params.credential, connection.url, redirect_uri),
    )


@sensitive_variables("params", "signed_in")
def finish_sign_in(connection: Connection, flow: dict, response: dict) -> delegated.SignedIn:
    """Redeem the code sent to the callback and keep msal's token cache (encrypted) on the connection."""
    params = params_for(connection)
    cloud = CLOUDS[connection.azure_environment]
    signed_in = _bounded(
        f"https://{cloud.authority_host}/",
        lambda: delegated.finish(cloud, *_app_identity(connection), params.credential, flow, response),
    )
    with locked_token_cache(connection.pk) as stored:
        store_token_cache(
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
        store_token_cache(stored, "", signed_in_name="", signed_in_username="", signed_in_tenant="", signed_in_at=None)


def _app_identity(connection: Connection) -> tuple[str, str]:
    """The tenant and client id as Entra wants them; a saved connection passed the form's rules already."""
    try:
        return normalize_tenant(connection.azure_tenant), normalize_guid(connection.client_id, field="Client ID")
    except InputError as error:
        raise CheckError("invalid_input", error.message, "Edit the connection and correct it.") from error


def _bounded[T](url: str, action: Callable[[], T]) -> T:
    """Run an Entra call of a sign-in under the TEST limits, turning library errors into CheckError."""
    with http.budget(test_limits()) as deadline:
        try:
            return action()
        except classify.LIBRARY_ERRORS as error:
            raise classify.classify(error, url, deadline) from error
