"""The TEST of a Dynamics CRM connection: outbound check, token from Entra ID, Dataverse WhoAmI, version.
CRM2011+ (on-premises) connections take the same four steps with NTLM or AD FS (see `onprem`).

`run()` never raises for a failed TEST: it returns a CheckResult whose steps show where it stopped.
Usable from a view, the admin, a management command or a scheduler.
"""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables

from connections.certificates import CertificateCredential
from connections.dynamics import dataverse, delegated, entra, guard, http, network, onprem
from connections.dynamics.clouds import CLOUDS
from connections.dynamics.errors import CheckError, OutboundBlockedError
from connections.dynamics.inputs import (
    CRM_ONLINE,
    check_online_host,
    normalize_guid,
    normalize_tenant,
    normalize_url,
)

SERVICE_PRINCIPAL = "AzureServicePrincipal"
AZURE_AD = "AzureAD"
AVAILABLE = "Connection available"
UNAVAILABLE = "Connection unavailable"
STEPS = (
    ("outbound", "Outbound check"),
    ("token", "Token from Entra ID"),
    ("whoami", "Dataverse WhoAmI"),
    ("version", "Dataverse version"),
)


@dataclass(frozen=True)
class CheckParams:
    url: str
    crm_version: str
    azure_tenant: str
    client_id: str
    azure_environment: str
    # The Auth Scheme's secret: the Entra client secret or certificate, the AD FS client secret, or (NTLM)
    # the Windows password.
    credential: str | CertificateCredential = field(repr=False)
    auth_scheme: str = SERVICE_PRINCIPAL
    token_cache: str = field(default="", repr=False)  # AzureAD: msal's serialized cache
    windows_user: str = ""  # NTLM: DOMAIN\name or name@domain
    adfs_url: str = ""  # ADFS: https://adfs.contoso.com/adfs
    adfs_resource: str = ""  # ADFS: the relying party; empty means the server's root URL


@dataclass
class StepResult:
    key: str
    label: str
    status: str = "skipped"  # ok, failed, warning, skipped
    elapsed: float = 0.0
    detail: str = ""


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
    # AzureAD: msal's cache after a refresh, for the caller to store (encrypted); never rendered.
    updated_token_cache: str | None = field(default=None, repr=False)

    @property
    def needs_sign_in(self) -> bool:
        return self.code == "sign_in_required"

    @property
    def summary(self) -> str:
        return f"{self.message} {self.hint}".strip()

    def steps_as_data(self) -> list[dict]:
        return [vars(step).copy() for step in self.steps]


def new_deadline() -> http.Deadline:
    """The time budget of one TEST (or one sign-in step), from settings."""
    return http.Deadline(settings.TEST_TOTAL_TIMEOUT, settings.TEST_CONNECT_TIMEOUT, settings.TEST_READ_TIMEOUT)


def steps_for(crm_version: str = CRM_ONLINE, auth_scheme: str = "") -> tuple[tuple[str, str], ...]:
    """The steps of a TEST: CRMOnline's, or the on-premises ones of NTLM or ADFS."""
    if crm_version == CRM_ONLINE:
        return STEPS
    return onprem.STEPS.get(auth_scheme, onprem.STEPS[onprem.NTLM])


class _Run:
    """The state of one TEST: its steps, deadline and timing."""

    def __init__(self, steps=STEPS):
        self.steps = [StepResult(key, label) for key, label in steps]
        self.updated_token_cache: str | None = None
        self.deadline = new_deadline()

    def step(self, key: str) -> StepResult:
        return next(step for step in self.steps if step.key == key)

    def do(self, key: str, url: str, action):
        """Run one step, timing it; library exceptions become CheckErrors naming the step."""
        step = self.step(key)
        started = time.monotonic()
        try:
            value = action()
        except CheckError as error:
            step.status, step.detail = "failed", error.message
            error.details.setdefault("step", step.label)
            raise
        except Exception as error:  # noqa: BLE001 - the edge of the client layer
            checked = network.classify(error, url, self.deadline)
            step.status, step.detail = "failed", checked.message
            raise checked from None
        finally:
            step.elapsed = time.monotonic() - started
        step.status = "ok"
        return value


@sensitive_variables("params")
def run(params: CheckParams) -> CheckResult:
    """TEST a connection against Microsoft Entra ID and the Dataverse Web API, or an on-premises server."""
    attempt = _Run(steps_for(params.crm_version, params.auth_scheme))
    started = time.monotonic()
    with http.budget(attempt.deadline):
        try:
            result = _check(params, attempt)
        except CheckError as error:
            failed = next((s for s in attempt.steps if s.status == "failed"), attempt.steps[0])
            failed.status = "failed"
            result = CheckResult(
                ok=False,
                steps=attempt.steps,
                step=failed.key,
                code=error.code,
                message=f"{UNAVAILABLE}: {failed.label} failed. {error.message}",
                hint=error.hint,
                details=error.details,
            )
        finally:
            guard.clear_pins()
        result.requests_sent = len(http.exchanges())
    result.updated_token_cache = attempt.updated_token_cache
    result.elapsed = time.monotonic() - started
    result.finished_at = datetime.now(UTC)
    if result.ok:
        result.message += f" Time taken: {result.elapsed:.2f} s."
    return result


def _check(params: CheckParams, attempt: _Run) -> CheckResult:
    if params.crm_version != CRM_ONLINE:
        outcome = onprem.check(params, attempt)
        return CheckResult(
            ok=True, steps=attempt.steps, message=f"{AVAILABLE}: {outcome.text}", details=outcome.details
        )
    url, cloud = attempt.do("outbound", params.url, lambda: _outbound(params))
    token = attempt.do("token", f"https://{cloud.authority_host}/", lambda: _token(params, cloud, url))
    attempt.step("token").detail = "from msal's cache" if token.from_cache else "issued by Entra ID"
    attempt.updated_token_cache = getattr(token, "token_cache", None)
    who = attempt.do("whoami", url, lambda: dataverse.who_am_i(url, token.access_token))
    attempt.step("whoami").detail = f"UserId {who.user_id}"
    version = _version(attempt, url, token)
    who_kind = "user" if params.auth_scheme == AZURE_AD else "application user"
    details = {
        "organization_id": who.organization_id,
        "user_id": who.user_id,
        "business_unit_id": who.business_unit_id,
        "version": version or "unknown",
    }
    return CheckResult(
        ok=True,
        steps=attempt.steps,
        message=(
            f"{AVAILABLE}: signed in to Dataverse as {who_kind} {who.user_id} "
            f"in organization {who.organization_id}, version {version or 'unknown'}."
        ),
        details=details,
    )


def _token(params: CheckParams, cloud, url: str):
    tenant = normalize_tenant(params.azure_tenant)
    client_id = normalize_guid(params.client_id, field="Client ID")
    if params.auth_scheme == AZURE_AD:
        return delegated.acquire(cloud, tenant, client_id, params.credential, url, params.token_cache)
    return entra.acquire_token(cloud, tenant, client_id, params.credential, url)


def _version(attempt: _Run, url: str, token) -> str:
    """RetrieveVersion; its failure does not undo a working WhoAmI, so it is a warning."""
    try:
        version = attempt.do("version", url, lambda: dataverse.retrieve_version(url, token.access_token))
    except CheckError as error:
        step = attempt.step("version")
        step.status, step.detail = "warning", error.message
        return ""
    attempt.step("version").detail = version
    return version


def _outbound(params: CheckParams):
    """Validate the inputs as the form does, then resolve and check the hosts this TEST will reach."""
    try:
        url = normalize_url(params.url, params.crm_version)
        cloud = CLOUDS[params.azure_environment]
        check_online_host(url, params.azure_environment)
    except ValidationError as error:
        raise CheckError("invalid_input", " ".join(error.messages), "Correct the URL and TEST again.") from None
    except KeyError:
        raise CheckError("invalid_input", "Choose an Azure Environment.", "") from None
    for host in (urlsplit(url).hostname, cloud.authority_host):
        try:
            guard.preflight(host, 443)
        except OutboundBlockedError as error:
            raise network.blocked(error) from None
        except OSError:
            raise network.name_not_resolved(host) from None
    return url, cloud


def not_run(code: str, message: str, hint: str, crm_version: str = CRM_ONLINE, auth_scheme: str = "") -> CheckResult:
    """A failed result for a TEST that could not start (for example a secret that cannot be decrypted)."""
    steps = [StepResult(key, label) for key, label in steps_for(crm_version, auth_scheme)]
    steps[0].status, steps[0].detail = "failed", message
    return CheckResult(
        ok=False, steps=steps, step=steps[0].key, code=code, message=f"{UNAVAILABLE}: {message}", hint=hint
    )
