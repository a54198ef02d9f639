"""Preview on an on-premises Dynamics CRM server: signed in exactly as its TEST signs in (NTLM on a connection of
its own, or a token from AD FS), on the newest endpoint the server has. CRM 2016 and newer: the Web API under the
organization's URL, as for Dataverse. CRM 2011 to 2015: the OData v2 organization data service, whose entity set
for the table comes from its service document (`AccountSet`), read with `$top=10`."""

from connections.dynamics import adfs, http, ntlm, onprem, onprem_api
from connections.dynamics.errors import CheckError
from connections.dynamics.preview_answers import refusal, too_large
from connections.dynamics.preview_rows import (
    MAX_BODY_BYTES,
    MAX_ROWS,
    Rows,
    TableDefinition,
    fetch,
    json_body,
    odata_v2_rows,
)
from connections.dynamics.runner import CheckParams, StepRunner
from connections.dynamics.schemes import NTLM
from connections.dynamics.web_api_reader import WebApiReader


def read(params: CheckParams, table: str, runner: StepRunner) -> tuple[str, TableDefinition, Rows]:
    """The table's rows through the endpoint the server has; CheckError when something refuses."""
    targets = runner.do("outbound", params.url, lambda: onprem.outbound(params, runner))
    url = targets.org_url
    if params.auth_scheme == NTLM:
        user = params.windows_user
        with ntlm.session(user, params.credential) as client:
            signed_in = runner.do("token", url, lambda: ntlm.sign_in(client, onprem_api.first_probe(url), user))
            endpoint = runner.do("table", url, lambda: onprem_api.find_endpoint(client, url, {}, signed_in.answer))
            return _read(client, endpoint, {}, table, runner, url)
    token = runner.do(
        "token",
        targets.adfs_url,
        lambda: adfs.acquire_token(targets.adfs_url, targets.client_id, params.credential, targets.resource),
    )
    auth = {"Authorization": f"Bearer {token.access_token}"}
    endpoint = runner.do("table", url, lambda: onprem_api.find_endpoint(http.client, url, auth))
    return _read(http.client, endpoint, auth, table, runner, url)


def _read(client, endpoint: onprem_api.Endpoint, auth: dict, table: str, runner: StepRunner, url: str):
    if endpoint.is_web_api:
        reader = WebApiReader(client, onprem_api.web_api_url(url, endpoint.version, ""), auth, on_premises=True)
        found = runner.do("table", url, lambda: reader.definition(table))
        rows = runner.do("rows", url, lambda: reader.rows(found))
        return f"Dynamics CRM Web API v{endpoint.version}", found, rows
    found = runner.do("table", url, lambda: _entity_set(client, endpoint.url, auth, table))
    rows = runner.do("rows", url, lambda: _v2_rows(client, endpoint.url, auth, found))
    return "OData v2 organization data service (CRM 2011 to 2015)", found, rows


def _v2_get(client, url: str, auth: dict, table: str, action: str) -> dict:
    answer = fetch(client, url, {**onprem_api.ODATA_V2_HEADERS, **auth})
    if answer.too_large:
        raise too_large(table, MAX_BODY_BYTES)
    if answer.status != 200:
        raise refusal(answer, table, action, on_premises=True)
    return json_body(answer, action)


def _entity_set(client, service: str, auth: dict, table: str) -> TableDefinition:
    """The entity set named after the table in the service document (`AccountSet` for account)."""
    body = _v2_get(client, service, auth, table, "the service document")
    data = body.get("d")
    sets = data.get("EntitySets") if isinstance(data, dict) else None
    wanted = f"{table}set"
    chosen = next((name for name in sets or [] if isinstance(name, str) and name.lower() == wanted), None)
    if chosen is None:
        raise CheckError(
            "table_not_found",
            f"There is no table {table} in this organization: its OData v2 service has no entity set {wanted}.",
            "Enter a table's logical name (singular, lower case, like account); CRM 2011 to 2015 name its entity "
            "set after the table's schema name (AccountSet).",
        )
    return TableDefinition(table, chosen)


def _v2_rows(client, service: str, auth: dict, found: TableDefinition) -> Rows:
    url = f"{service}{found.entity_set}?$top={MAX_ROWS}"
    return odata_v2_rows(_v2_get(client, url, auth, found.logical_name, f"the rows of {found.logical_name}"))
