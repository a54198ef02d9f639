"""Preview: the first rows of one table, with all of its columns and the values a user of Dynamics reads.

`run(params, table, limits)` signs in as the TEST does (CRMOnline: Entra ID; CRM2011+: NTLM or AD FS, in
`preview_onprem`), reads the table's definition and columns and then `$top=10` rows with formatted values, within
`limits` (its own time budget) and a byte cap, and returns a PreviewResult; it never raises for a refusal.
The rows are customer data: nothing here logs them, keeps them or puts them in an exception.
"""

import logging
import time
import traceback
import uuid
from dataclasses import dataclass, field

from connections.dynamics import dataverse, guard, http, online, preview_onprem
from connections.dynamics.errors import CheckError
from connections.dynamics.preview_rows import Cell, PreviewColumn, Rows, TableDefinition
from connections.dynamics.runner import CheckParams, StepRunner
from connections.dynamics.schemes import AZURE_AD, CRM_2011
from connections.dynamics.web_api_reader import WebApiReader

__all__ = ["Cell", "PreviewColumn", "PreviewResult", "WebApiReader", "run"]
logger = logging.getLogger(__name__)
STEPS = (("outbound", "Outbound check"), ("token", "Sign-in"), ("table", "Table definition"), ("rows", "Rows"))


@dataclass
class PreviewResult:
    ok: bool
    table: str
    columns: list[PreviewColumn] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list, repr=False)  # customer data: never logged, never kept
    total_columns: int = 0
    display_name: str = ""
    source: str = ""  # "Dataverse Web API v9.2", "Web API v9.1", "OData v2 organization data service"
    notes: list[str] = field(default_factory=list)
    code: str = ""
    message: str = ""
    hint: str = ""
    details: dict = field(default_factory=dict)
    elapsed: float = 0.0
    updated_token_cache: str | None = field(default=None, repr=False)  # AzureAD: msal's refreshed cache

    @property
    def columns_cut(self) -> bool:
        return self.total_columns > len(self.columns)


def run(params: CheckParams, table: str, limits: http.Limits) -> PreviewResult:
    """Preview `table` (a logical name the caller validated) of the connection `params` describe."""
    started = time.monotonic()
    with http.budget(limits) as deadline:
        runner = StepRunner(STEPS, deadline, on_premises=params.crm_version == CRM_2011)
        try:
            flow = preview_onprem.read if runner.on_premises else _read_online
            source, found, rows = flow(params, table, runner)
            result = PreviewResult(True, table, rows.columns, rows.rows, rows.total_columns, found.display_name)
            result.source, result.notes = source, rows.notes
        except CheckError as error:
            result = _failed(table, error, deadline)
        except Exception as error:  # noqa: BLE001 - the one edge where our own bugs are caught, logged and named
            result = _failed(table, _internal_error(error), deadline)
        finally:
            guard.clear_pins()
    result.updated_token_cache = runner.updated_token_cache
    result.elapsed = time.monotonic() - started
    return result


def _read_online(params: CheckParams, table: str, runner: StepRunner) -> tuple[str, TableDefinition, Rows]:
    url, cloud = runner.do("outbound", params.url, lambda: online.outbound(params, runner))
    token = runner.do("token", f"https://{cloud.authority_host}/", lambda: online.acquire_token(params, cloud, url))
    runner.updated_token_cache = getattr(token, "token_cache", None)
    base = f"{url.rstrip('/')}/api/data/{dataverse.API_VERSION}/"
    principal = "user" if params.auth_scheme == AZURE_AD else "application user"
    reader = WebApiReader(http.client, base, {"Authorization": f"Bearer {token.access_token}"}, principal=principal)
    found = runner.do("table", url, lambda: reader.definition(table))
    rows = runner.do("rows", url, lambda: reader.rows(found))
    return f"Dataverse Web API {dataverse.API_VERSION}", found, rows


def _failed(table: str, error: CheckError, deadline: http.Deadline) -> PreviewResult:
    message, hint = error.message, error.hint
    if error.code in ("timeout", "read_timeout") and deadline.remaining() <= 0.5:
        message = f"The preview did not finish within its {deadline.total:g} s time budget: nothing is shown."
        hint = "The server is slow or busy: try again later, or preview a smaller table."
    return PreviewResult(False, table, code=error.code, message=message, hint=hint, details=error.details)


def _internal_error(error: Exception) -> CheckError:
    """Log a bug's traceback under an id; only the exception's type, never its message (it could hold a value)."""
    incident = uuid.uuid4().hex[:12]
    frames = "".join(traceback.format_tb(error.__traceback__))
    logger.error("Internal error %s during a preview: %s\n%s", incident, type(error).__name__, frames)
    return CheckError(
        "internal_error",
        f"An internal error stopped the preview (incident {incident}).",
        "This is a fault in the connector, not in the connection's settings. Give the incident id to whoever runs "
        "this app: it finds the log entry with the details.",
        {"incident": incident},
    )
