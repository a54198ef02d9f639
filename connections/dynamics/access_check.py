"""Check access: which tables the connection's principal can read, after a good TEST.

The principal is the application user (AzureServicePrincipal), the signed-in user (AzureAD), or the on-premises
CRM user (NTLM, ADFS). It signs in as TEST does (online's and onprem's own steps), then reads the public tables
(EntityDefinitions, or the OData v2 service's entity sets), the principal's privileges (RetrieveUserPrivileges on
WhoAmI's UserId) and `$top=1` of the common tables and of those the admin names. A refused read says which
privilege is missing and where to grant it, from Dataverse's own 403. Rows are read, never kept.
"""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connections.dynamics import check, classify, dataverse, guard, http, online, onprem, tables
from connections.dynamics.answers import dataverse_error
from connections.dynamics.errors import CheckError
from connections.dynamics.runner import CheckParams, StepRunner
from connections.dynamics.schemes import AZURE_AD, CRM_2011, NTLM
from connections.dynamics.tables import Listing, Table

COMMON_TABLES = ("account", "contact", "lead", "opportunity", "systemuser")
MAX_NAMED = 20
READ_STEPS = (
    ("tables", "Public tables"),
    ("privileges", "Privileges (RetrieveUserPrivileges)"),
    ("reads", "Reads ($top=1)"),
)
NO_PRIVILEGES_V2 = "not asked: the OData v2 service has no RetrieveUserPrivileges (the reads say what is readable)"
LOW_BUDGET = 1.0  # seconds: below this, the remaining tables are not read


@dataclass
class AccessResult:
    ok: bool
    steps: list
    step: str = ""
    code: str = ""
    message: str = ""
    hint: str = ""
    principal: dict = field(default_factory=dict)  # user_id, kind
    tables: list[Table] = field(default_factory=list)  # the public tables
    reads: list[Table] = field(default_factory=list)  # the tables read with $top=1, in the order asked
    warnings: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    requests_sent: int = 0
    finished_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_token_cache: str | None = field(default=None, repr=False)  # AzureAD: for the caller to store

    def as_data(self) -> dict:
        """What is kept with the connection: no token, no row."""
        data = {name: getattr(self, name) for name in ("ok", "step", "code", "message", "hint", "principal")}
        data |= {"warnings": self.warnings, "elapsed": round(self.elapsed, 3), "requests_sent": self.requests_sent}
        data["steps"] = [vars(step).copy() for step in self.steps]
        data["tables"] = [table.as_data() for table in self.tables]
        data["reads"] = [table.as_data() for table in self.reads]
        data["finished_at"] = self.finished_at.isoformat()
        return data


@dataclass
class Found:
    principal: dict
    listing: Listing
    reads: list[Table]
    known_privileges: bool = True


def steps_for(crm_version: str, auth_scheme: str) -> tuple[tuple[str, str], ...]:
    """TEST's sign-in steps (without the version and expiry), then the reads."""
    signing_in = [step for step in check.steps_for(crm_version, auth_scheme) if step[0] in ("outbound", "token")]
    whoami = next(step for step in check.steps_for(crm_version, auth_scheme) if step[0] == "whoami")
    return (*signing_in, whoami, *READ_STEPS)


def wanted(named: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The tables read with $top=1: the common ones, then those the admin names (each once)."""
    return list(dict.fromkeys([*COMMON_TABLES, *(name.lower() for name in named)]))


def run(params: CheckParams, limits: http.Limits, named: list[str] | tuple[str, ...] = (), progress=None):
    """Check what the principal can read, within the TEST's time budget; never raises: an AccessResult."""
    started = time.monotonic()
    on_premises = params.crm_version == CRM_2011
    with http.budget(limits) as deadline:
        runner = StepRunner(steps_for(params.crm_version, params.auth_scheme), deadline, on_premises, progress)
        try:
            found = (_onprem if on_premises else _online)(params, runner, wanted(named))
            result = _summary(runner, found)
        except CheckError as error:
            result = _failed(runner, error)
        except Exception as error:  # noqa: BLE001 - the one edge where our own bugs are caught, logged and named
            result = _failed(runner, check.internal_error(error, params, "Check access"))
        finally:
            guard.clear_pins()
        result.requests_sent = len(http.exchanges())
    result.updated_token_cache = runner.updated_token_cache
    result.elapsed = time.monotonic() - started
    result.finished_at = datetime.now(UTC)
    return result


def _failed(runner: StepRunner, error: CheckError) -> AccessResult:
    failed = check.failed(runner, error)
    message = failed.message.replace(check.UNAVAILABLE, "Check access failed", 1)
    return AccessResult(False, runner.steps, failed.step, failed.code, message, failed.hint)


def _summary(runner: StepRunner, found: Found) -> AccessResult:
    listed = found.listing.tables
    read_ok = sum(1 for table in found.reads if table.readable)
    reads = f"{read_ok} of the {len(found.reads)} tables read"
    if found.known_privileges:
        readable = sum(1 for table in listed if table.readable)
        text = f"{readable} of {len(listed)} public tables readable; {reads}."
    else:
        text = f"{len(listed)} entity sets listed (their privileges are not known without the Web API); {reads}."
    return AccessResult(
        True, runner.steps, message=text, principal=found.principal, tables=listed, reads=found.reads,
        warnings=found.listing.warnings,
    )  # fmt: skip


def _online(params: CheckParams, runner: StepRunner, names: list[str]) -> Found:
    url, cloud = runner.do("outbound", params.url, lambda: online.outbound(params, runner))
    token = runner.do("token", f"https://{cloud.authority_host}/", lambda: online.acquire_token(params, cloud, url))
    runner.updated_token_cache = getattr(token, "token_cache", None)
    who = runner.do("whoami", url, lambda: dataverse.who_am_i(url, token.access_token))
    runner.step("whoami").detail = f"UserId {who.user_id}"
    kind = "signed-in user" if params.auth_scheme == AZURE_AD else "application user"
    base = tables.api_base(url, dataverse.API_VERSION.removeprefix("v"))
    auth = {"Authorization": f"Bearer {token.access_token}"}
    return _web_api(runner, Reader(http.client, base, auth, kind, tables.GRANT_WHERE), who.user_id, names)


def _onprem(params: CheckParams, runner: StepRunner, names: list[str]) -> Found:
    with onprem.signed_in(params, runner) as done:
        endpoint = done.endpoint
        kind = "CRM user" + (f" {params.windows_user}" if params.auth_scheme == NTLM else " (AD FS)")
        if endpoint.is_web_api:
            base = tables.api_base(done.targets.org_url, endpoint.version)
            reader = Reader(done.client, base, done.auth, kind, tables.ONPREM_GRANT_WHERE)
            return _web_api(runner, reader, endpoint.user_id, names)
        reader = Reader(done.client, endpoint.url, done.auth, kind, tables.ONPREM_GRANT_WHERE, odata_v2=True)
        return _odata_v2(runner, reader, names)


@dataclass(frozen=True)
class Reader:
    """Where and as whom the tables are read, and where a missing privilege is granted."""

    client: object
    base: str  # the Web API's root (…/api/data/v9.2/) or the OData v2 service's
    auth: dict
    kind: str  # application user, signed-in user, CRM user
    grant_where: str
    odata_v2: bool = False


def _web_api(runner: StepRunner, reader: Reader, user_id: str, names: list[str]) -> Found:
    client, base, auth = reader.client, reader.base, reader.auth
    listing = runner.do("tables", base, lambda: tables.public_tables(client, base, auth))
    runner.step("tables").detail = f"{len(listing.tables)} public tables" + "".join(f" ({w})" for w in listing.warnings)
    held = runner.do("privileges", base, lambda: tables.privileges(client, base, auth, user_id))
    runner.step("privileges").detail = f"{len(held)} privileges"
    by_lower = {name.lower(): depth for name, depth in held.items()}
    for table in listing.tables:
        table.depth = by_lower.get(table.privilege.lower(), "")
        table.readable = bool(table.depth)
    reads = runner.do("reads", base, lambda: _read_all(runner, reader, listing, names))
    return Found({"user_id": user_id, "kind": reader.kind}, listing, reads)


def _odata_v2(runner: StepRunner, reader: Reader, names: list[str]) -> Found:
    sets = runner.do("tables", reader.base, lambda: tables.entity_sets(reader.client, reader.base, reader.auth))
    runner.step("tables").detail = f"{len(sets)} entity sets (OData v2)"
    runner.step("privileges").detail = NO_PRIVILEGES_V2
    listing = Listing(sets)
    reads = runner.do("reads", reader.base, lambda: _read_all(runner, reader, listing, names))
    return Found({"user_id": "", "kind": reader.kind}, listing, reads, known_privileges=False)


def _read_all(runner: StepRunner, reader: Reader, listing: Listing, names: list[str]) -> list[Table]:
    """$top=1 of each named table; one table's refusal is its outcome, not the check's."""
    by_name = {table.logical_name: table for table in listing.tables}
    reads = []
    for name in names:
        table = by_name.get(name) or _defined(runner, reader, name)
        reads.append(table)
        if table.read:  # its definition's 404 said it does not exist
            continue
        if runner.deadline.remaining() < LOW_BUDGET:
            table.message = "Not read: the time budget was used up. Check access again for this table."
            continue
        _read(runner, reader, table)
    readable = sum(1 for table in reads if table.readable)
    runner.step("reads").detail = f"{readable} of {len(reads)} readable"
    return reads


def _defined(runner: StepRunner, reader: Reader, name: str) -> Table:
    """A named table not in the list: its own definition (a private table, or one past the bounds), or a 404."""
    missing = Table(name, read=True, readable=False)
    if reader.odata_v2:
        missing.code, missing.message = "table_not_found", f"This server has no entity set for {name}."
        missing.hint = "Check the table's logical name (Settings > Customizations shows every entity)."
        return missing
    try:
        return tables.table_definition(reader.client, reader.base, reader.auth, name)
    except CheckError as error:
        if error.details.get("http_status") != "404":
            raise
        missing.code = error.details.get("dataverse_code", "table_not_found")
        missing.message = f"No table named {name} exists in this environment (HTTP 404, {missing.code})."
        missing.hint = "Check the logical name: make.powerapps.com > Tables > the table > Properties > Logical name."
        return missing
    except classify.LIBRARY_ERRORS as error:
        raise classify.classify(error, reader.base, runner.deadline, runner.on_premises) from error


def _read(runner: StepRunner, reader: Reader, table: Table) -> None:
    table.read = True
    try:
        if reader.odata_v2:
            answer = tables.read_one_v2(reader.client, reader.base, reader.auth, table)
        else:
            answer = tables.read_one(reader.client, reader.base, reader.auth, table)
    except classify.LIBRARY_ERRORS as error:
        failed = classify.classify(error, reader.base, runner.deadline, runner.on_premises)
        table.readable, table.code, table.message, table.hint = None, failed.code, failed.message, failed.hint
        return
    if answer.status == 200:
        table.readable, table.message = True, "Readable."
        return
    judge(table, tables.refusal(answer, tables.read_url(reader.base, table)), reader)


def judge(table: Table, refused, reader: Reader) -> None:
    """A refused read: the missing privilege and where to grant it, a table that does not exist, or the
    environment's refusal (app access control, IP firewall, service protection) with its advice."""
    privilege = tables.missing_privilege(refused.message)
    if refused.status == 403 and (privilege or refused.code.lower() == tables.PRIVILEGE_DENIED):
        table.privilege = privilege or table.privilege
        table.readable, table.depth, table.code = False, "", refused.code or tables.PRIVILEGE_DENIED
        table.message = f"Missing {table.privilege}: the read was refused (HTTP 403, {table.code})."
        table.hint = (
            f"Give the {reader.kind} a security role with Read on {table.display_name or table.logical_name} "
            f"({table.privilege}): {reader.grant_where}."
        )
        return
    if refused.status == 404 or refused.code.lower() in tables.TABLE_NOT_FOUND:
        table.readable, table.code = False, refused.code or "table_not_found"
        table.message = (
            f"No such table or entity set (HTTP {refused.status}{', ' + refused.code if refused.code else ''})."
        )
        table.hint = "Check the table's logical name."
        return
    error = dataverse_error(refused, f"the read of {table.logical_name}")
    table.readable = None if refused.status in http.RETRY_STATUSES else False
    table.code, table.message, table.hint = refused.code or error.code, error.message, error.hint
