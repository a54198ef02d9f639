"""The pieces of one TEST that every flow uses: its parameters, its steps, and the runner that times them.

A flow (`online`, `onprem`) runs its steps with `StepRunner.do`; library errors become CheckErrors naming the
step, our own bugs stay bugs (the orchestrator, `check.run`, logs them as internal errors).
"""

import contextvars
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from connections.dynamics import classify, guard, http
from connections.dynamics.certificates import CertificateCredential
from connections.dynamics.credential_expiry import ExpiryReading, KnownExpiry
from connections.dynamics.errors import CheckError, OutboundBlockedError
from connections.dynamics.schemes import SERVICE_PRINCIPAL

# Steps that need not wait for the one before them (RetrieveVersion beside WhoAmI) run here. Each call is bounded
# by its TEST's deadline, so a thread is never held longer than a TEST's budget.
_beside = ThreadPoolExecutor(max_workers=16, thread_name_prefix="test-step")


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
    # CRMOnline with an app credential: the caller's fresh reading of its expiry (no Graph request), or None to ask.
    known_expiry: KnownExpiry | None = None
    # False for a credential typed into a form: its expiry is read once it is saved (a TEST of the saved credential,
    # within the hour by the schedule), so a form TEST sends Entra ID no third request for a Graph token.
    read_expiry: bool = True

    def secrets(self) -> list[str]:
        """The secret strings of these parameters, for scrubbing a log line."""
        values = [self.token_cache]
        if isinstance(self.credential, CertificateCredential):
            values += [self.credential.private_key_pem]
        elif isinstance(self.credential, str):  # a managed identity has no secret
            values += [self.credential]
        return [value for value in values if value and len(value) >= 4]


@dataclass
class StepResult:
    key: str
    label: str
    status: str = "skipped"  # running, ok, failed, warning, skipped
    elapsed: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class Available:
    """What a flow found: the text after "Connection available: " and the details shown beside it."""

    text: str
    details: dict = field(default_factory=dict)


class StepRunner:
    """The state of one TEST: its steps, its deadline, and msal's updated token cache (AzureAD)."""

    def __init__(
        self,
        steps: tuple[tuple[str, str], ...],
        deadline: http.Deadline,
        on_premises: bool = False,
        progress: Callable[[list["StepResult"]], None] | None = None,
    ):
        self.steps = [StepResult(key, label) for key, label in steps]
        self.deadline = deadline
        self.on_premises = on_premises
        self.updated_token_cache: str | None = None
        self.expiry_reading: ExpiryReading | None = None  # what Microsoft Graph said, for the caller to store
        # Told the steps each time one starts or ends (a background TEST shows them as they finish).
        self.progress = progress or (lambda steps: None)
        self._launched: dict[str, float] = {}

    def step(self, key: str) -> StepResult:
        return next(step for step in self.steps if step.key == key)

    def do[T](self, key: str, url: str, action: Callable[[], T]) -> T:
        """Run one step, timing it; a library error becomes a CheckError naming the step, a bug stays a bug."""
        step = self.step(key)
        started = self._launched.pop(key, None)
        if started is None:
            started = time.monotonic()
            step.status = "running"
            self.progress(self.steps)
        try:
            value = action()
        except CheckError as error:
            step.status, step.detail = "failed", error.message
            error.details.setdefault("step", step.label)
            self._abandon_launched()
            raise
        except classify.LIBRARY_ERRORS as error:
            checked = classify.classify(error, url, self.deadline, self.on_premises)
            step.status, step.detail = "failed", checked.message
            self._abandon_launched()
            raise checked from error
        except Exception:
            step.status, step.detail = "failed", "internal error"
            self._abandon_launched()
            raise
        finally:
            step.elapsed = time.monotonic() - started
            if step.status == "running":
                step.status = "ok"
        # Told when the next step starts (or with the result, after the last one): steps run back to back, and
        # every write of the progress is a database write in the TEST's own time.
        return value

    def launch[T](self, key: str, action: Callable[[], T]) -> Callable[[], T]:
        """Start a step's request now, beside the steps that follow; `do(key, url, waiting)` with the function
        returned waits for its answer and reports it, timed from the launch. The step's thread sees this TEST's
        deadline, allowed networks and request log (its context variables). The progress shows it running with
        the next step that starts."""
        self.step(key).status = "running"
        self._launched[key] = time.monotonic()
        future = _beside.submit(contextvars.copy_context().run, action)
        return future.result

    def _abandon_launched(self) -> None:
        """A step failed: the steps launched beside it are not waited for (their requests end within the budget)."""
        for key in self._launched:
            self.step(key).status = "skipped"
        self._launched.clear()

    def optional(self, key: str, url: str, action: Callable[[], str]) -> str:
        """A step whose failure does not undo the ones before it: a warning, and an empty answer."""
        try:
            value = self.do(key, url, action)
        except CheckError as error:
            step = self.step(key)
            step.status, step.detail = "warning", error.message
            return ""
        self.step(key).detail = value
        return value

    def preflight(self, hosts: list[tuple[str, int]]) -> None:
        """Resolve and check every host this TEST will reach, before any byte is sent to one of them."""
        for host, port in hosts:
            try:
                guard.preflight(host, port)
            except OutboundBlockedError as error:
                raise classify.blocked(error, self.on_premises) from error
            except OSError as error:
                raise classify.name_not_resolved(host, self.on_premises) from error
