"""The TEST of a Dynamics CRM connection: one orchestrator, one flow per CRM Version.

`run()` picks the flow (`online` for CRMOnline, `onprem` for CRM2011+), runs its steps on a `StepRunner`
under the operator's `Limits`, and never raises for a failed TEST: it returns a CheckResult whose steps show
where it stopped. Usable from a view, the admin, a management command or a worker.
"""

import logging
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from connections.dynamics import guard, http, online, onprem, protection, proxy
from connections.dynamics.credential_expiry import ExpiryReading
from connections.dynamics.errors import CheckError
from connections.dynamics.runner import Available, CheckParams, StepResult, StepRunner
from connections.dynamics.schemes import CRM_2011, CRM_ONLINE

__all__ = ["AVAILABLE", "UNAVAILABLE", "CheckParams", "CheckResult", "StepResult", "StepRunner", "run", "not_run"]
AVAILABLE = "Connection available"
UNAVAILABLE = "Connection unavailable"
logger = logging.getLogger(__name__)


@dataclass
class CheckResult:
    ok: bool
    steps: list[StepResult]
    step: str = ""  # the step that failed
    code: str = ""
    message: str = ""
    hint: str = ""
    details: dict = field(default_factory=dict)
    elapsed: float = 0.0
    finished_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    requests_sent: int = 0
    # Dataverse's service protection budget as this TEST's answers reported it (protection.summary).
    service_protection: dict = field(default_factory=dict)
    # AzureAD: msal's cache after a refresh, for the caller to store (encrypted); never rendered.
    updated_token_cache: str | None = field(default=None, repr=False)
    # CRMOnline with an app credential: when it expires, as Microsoft Graph said in this TEST (None if not asked).
    credential_expiry: ExpiryReading | None = None

    @property
    def needs_sign_in(self) -> bool:
        return self.code == "sign_in_required"

    @property
    def summary(self) -> str:
        return f"{self.message} {self.hint}".strip()

    def steps_as_data(self) -> list[dict]:
        return [vars(step).copy() for step in self.steps]


class Flow(Protocol):
    """A CRM Version's TEST: its steps by Auth Scheme, and the check that runs them."""

    def steps_for(self, auth_scheme: str) -> tuple[tuple[str, str], ...]: ...

    def check(self, params: CheckParams, runner: StepRunner) -> Available: ...


FLOWS: dict[str, Flow] = {CRM_ONLINE: online, CRM_2011: onprem}


def flow_for(crm_version: str) -> Flow:
    return FLOWS.get(crm_version, online)


def steps_for(crm_version: str = CRM_ONLINE, auth_scheme: str = "") -> tuple[tuple[str, str], ...]:
    """The steps of a TEST: CRMOnline's, or the on-premises ones of NTLM or ADFS."""
    return flow_for(crm_version).steps_for(auth_scheme)


def run(params: CheckParams, limits: http.Limits, progress=None) -> CheckResult:
    """TEST a connection against Microsoft Entra ID and the Dataverse Web API, or an on-premises server.

    `progress`, if given, is called with the steps each time one starts or ends."""
    started = time.monotonic()
    flow = flow_for(params.crm_version)
    with http.budget(limits) as deadline:
        runner = StepRunner(flow.steps_for(params.auth_scheme), deadline, flow is onprem, progress)
        try:
            available = flow.check(params, runner)
            result = CheckResult(ok=True, steps=runner.steps, message=f"{AVAILABLE}: {available.text}")
            result.details = available.details
        except CheckError as error:
            result = failed(runner, error)
        except Exception as error:  # noqa: BLE001 - the one edge where our own bugs are caught, logged and named
            result = failed(runner, internal_error(error, params))
        finally:
            guard.clear_pins()
        exchanges = http.exchanges()
        result.requests_sent = len(exchanges)
        result.service_protection = protection.summary([(e.url, e.budget_seen) for e in exchanges])
    result.updated_token_cache = runner.updated_token_cache
    result.credential_expiry = runner.expiry_reading
    result.elapsed = time.monotonic() - started
    result.finished_at = datetime.now(UTC)
    if result.ok:
        result.message += f" Time taken: {result.elapsed:.2f} s."
    return result


def failed(runner: StepRunner, error: CheckError) -> CheckResult:
    failed = next((s for s in runner.steps if s.status == "failed"), runner.steps[0])
    failed.status = "failed"
    return CheckResult(
        ok=False,
        steps=runner.steps,
        step=failed.key,
        code=error.code,
        message=f"{UNAVAILABLE}: {failed.label} failed. {error.message}",
        hint=error.hint,
        details=error.details,
    )


def internal_error(error: Exception, params: CheckParams, what: str = "TEST") -> CheckError:
    """Log a bug with its traceback (the connection's secrets scrubbed) under an id the admin can quote."""
    incident = uuid.uuid4().hex[:12]
    text = "".join(traceback.format_exception(error))
    proxies = proxy.current()
    for secret in [*params.secrets(), *(proxies.secrets() if proxies else [])]:
        text = text.replace(secret, "[secret]")
    text = proxy.scrub(text)
    logger.error("Internal error %s during a %s:\n%s", incident, what, text)
    return CheckError(
        "internal_error",
        f"An internal error stopped the {what} (incident {incident}).",
        "This is a fault in the connector, not in the connection's settings. Give the incident id to whoever runs "
        "this app: it finds the log entry with the details.",
        {"incident": incident},
    )


def not_run(code: str, message: str, hint: str, crm_version: str = CRM_ONLINE, auth_scheme: str = "") -> CheckResult:
    """A failed result for a TEST that could not start (for example a secret that cannot be decrypted)."""
    steps = [StepResult(key, label) for key, label in steps_for(crm_version, auth_scheme)]
    steps[0].status, steps[0].detail = "failed", message
    return CheckResult(
        ok=False, steps=steps, step=steps[0].key, code=code, message=f"{UNAVAILABLE}: {message}", hint=hint
    )
