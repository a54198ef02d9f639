"""Preview a table of a saved connection: the use case the connection page's Preview card calls.

It runs here, in the web request, not on a worker: a worker would have to put the rows somewhere (a database row,
the queue) for the page to read them, and nothing a preview reads is stored, cached or logged. So it is bounded
tightly: PREVIEW_TIMEOUT, 10 rows, a byte cap, PREVIEW_RATE_PER_USER a minute. The Premium gate, the rate limit
and the audit event (the table's name and the row count, never a value) live here.
See docs/decisions/0009-preview.md.
"""

import logging
import re
import time

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from audit import trail
from audit.models import Action
from connections import azure_ad, throttle
from connections.credentials import CREDENTIAL_FIELDS, params_for
from connections.crypto import SecretDecryptionError
from connections.dynamics import preview
from connections.dynamics.delegated import SIGN_IN_AGAIN_HINT
from connections.dynamics.http import Limits
from connections.models import Connection
from marketplace import gate
from marketplace.catalogue import DYNAMICS_CRM

logger = logging.getLogger(__name__)
TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class PreviewRefusedError(Exception):
    """A preview that may not start now: over the rate limit, or the cache that counts previews is down."""

    def __init__(self, message: str, status: int = 429, retry_after: int = 60):
        super().__init__(message)
        self.message, self.status, self.retry_after = message, status, retry_after


def preview_limits() -> Limits:
    """The preview's own budget: PREVIEW_TIMEOUT in all, the TEST's connect and read timeouts within it."""
    total = settings.PREVIEW_TIMEOUT
    return Limits(
        total=total,
        connect=min(settings.TEST_CONNECT_TIMEOUT, total),
        read=min(settings.TEST_READ_TIMEOUT, total),
        allowed_networks=tuple(settings.OUTBOUND_ALLOWED_NETWORKS),
        proxies=settings.OUTBOUND_PROXIES,
    )


def check_rate(user_id: int) -> None:
    """Count one preview for this user; PreviewRefusedError over PREVIEW_RATE_PER_USER, or when it cannot count."""
    try:
        counted = throttle.count(f"preview:user:{user_id}")
    except Exception as error:  # noqa: BLE001 - whatever the cache backend raises: the preview does not start
        logger.error("The cache refused to count a preview: %s", type(error).__name__)
        raise PreviewRefusedError(
            "Preview not run: the cache that counts previews is not reachable. Try again in a moment.", 503, 10
        ) from error
    if counted > settings.PREVIEW_RATE_PER_USER:
        wait = throttle.WINDOW - int(time.time()) % throttle.WINDOW
        raise PreviewRefusedError(
            f"Preview not run: you ran more than {settings.PREVIEW_RATE_PER_USER} previews in the last minute; "
            f"wait {wait} s and try again.",
            retry_after=wait,
        )


def preview_saved(connection: Connection, user, table: str) -> preview.PreviewResult:
    """Preview `table` (a validated logical name) of a saved connection for `user`, who may manage it.

    Raises gate.ConnectorUnavailableError without a trial or subscription, PreviewRefusedError over the rate limit.
    """
    gate.require(DYNAMICS_CRM)
    check_rate(user.pk)
    result = _run(connection, table)
    rows = len(result.rows)
    detail = f"{table}: {rows} row{'' if rows == 1 else 's'}"
    trail.record(user, Action.DATA_PREVIEWED, connection, outcome=result.code or "previewed", detail=detail)
    return result


@sensitive_variables("params", "token_cache")
def _run(connection: Connection, table: str) -> preview.PreviewResult:
    retype = CREDENTIAL_FIELDS.get(connection.auth_scheme, "the Client Secret")
    try:
        params = params_for(connection)
    except SecretDecryptionError as error:
        return _not_run(table, "secret_unreadable", str(error), f"Enter {retype} again (edit the connection).")
    if not params.credential:
        return _not_run(table, "no_credential", "No credential is stored for this connection.", f"Enter {retype}.")
    limits = preview_limits()
    if not connection.is_delegated:
        return preview.run(params, table, limits)
    try:
        return azure_ad.run_signed_in(connection.pk, params, lambda signed_in: preview.run(signed_in, table, limits))
    except SecretDecryptionError as error:
        return _not_run(table, "sign_in_required", str(error), SIGN_IN_AGAIN_HINT)


def _not_run(table: str, code: str, message: str, hint: str) -> preview.PreviewResult:
    return preview.PreviewResult(False, table, code=code, message=message, hint=hint)
