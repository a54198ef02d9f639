"""The TEST of a CRM2011+ (on-premises) connection: outbound check, sign-in with NTLM or a token from AD FS,
WhoAmI on the newest endpoint the server has, and its version.

Called by `check.run` with a StepRunner; returns what the success message says and its details.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from connections.dynamics import adfs, http, ntlm, onprem_api
from connections.dynamics.errors import CheckError, InputError
from connections.dynamics.inputs import (
    check_adfs_resource,
    default_adfs_resource,
    normalize_adfs_url,
    normalize_guid,
    normalize_url,
    normalize_windows_user,
)
from connections.dynamics.runner import Available, CheckParams, StepRunner
from connections.dynamics.schemes import ADFS, CRM_2011, NTLM

WHOAMI = ("whoami", "Dynamics CRM WhoAmI")
VERSION = ("version", "Dynamics CRM version")
STEPS = {
    NTLM: (("outbound", "Outbound check"), ("token", "Sign-in (NTLM)"), WHOAMI, VERSION),
    ADFS: (("outbound", "Outbound check"), ("token", "Token from AD FS"), WHOAMI, VERSION),
}
ODATA_ONLY = (
    "RetrieveVersion needs the Web API (CRM 2016 or newer): this server has only the OData v2 organization "
    "data service, so it runs CRM 2011, 2013 or 2015."
)


@dataclass(frozen=True)
class Targets:
    org_url: str
    adfs_url: str = ""
    client_id: str = ""
    resource: str = ""


def steps_for(auth_scheme: str) -> tuple[tuple[str, str], ...]:
    return STEPS.get(auth_scheme, STEPS[NTLM])


@dataclass(frozen=True)
class SignedIn:
    """An on-premises sign-in that worked: the client to send with, the endpoint that answered WhoAmI, the headers
    that authenticate (AD FS's bearer token; none with NTLM, whose connections are authenticated) and the targets."""

    client: http.BoundedClient
    endpoint: onprem_api.Endpoint
    auth: dict
    targets: Targets


def check(params: CheckParams, runner: StepRunner) -> Available:
    """Run the on-premises TEST's steps on `runner`; CheckError when a step fails."""
    with signed_in(params, runner) as done:
        version = _version(runner, done.client, done.endpoint, done.targets.org_url, done.auth)
    if params.auth_scheme == NTLM:
        user = params.windows_user
        return _outcome(done.endpoint, version, f"Windows user {user}", {"windows_user": user})
    details = {"adfs": done.targets.adfs_url, "adfs_resource": done.targets.resource}
    return _outcome(done.endpoint, version, f"AD FS client {done.targets.client_id}", details)


@contextmanager
def signed_in(params: CheckParams, runner: StepRunner) -> Iterator[SignedIn]:
    """The outbound, sign-in and WhoAmI steps on `runner` (NTLM's own connections are closed on leaving)."""
    targets = runner.do("outbound", params.url, lambda: outbound(params, runner))
    url = targets.org_url
    if params.auth_scheme == NTLM:
        with ntlm.session(params.windows_user, params.credential) as client:
            yield SignedIn(client, _sign_in_ntlm(params, runner, targets, client), {}, targets)
        return
    auth = _sign_in_adfs(params, runner, targets)
    endpoint = runner.do("whoami", url, lambda: onprem_api.find_endpoint(http.client, url, auth))
    yield SignedIn(http.client, endpoint, auth, targets)


def _sign_in_ntlm(params: CheckParams, attempt: StepRunner, targets: Targets, client) -> onprem_api.Endpoint:
    url, user = targets.org_url, params.windows_user
    signed_in = attempt.do("token", url, lambda: ntlm.sign_in(client, onprem_api.first_probe(url), user))
    step = attempt.step("token")
    step.detail = f"Windows accepted {user}."
    if not signed_in.handshake:
        step.status, step.detail = "warning", "The server answered without asking for Windows credentials."
    return attempt.do("whoami", url, lambda: onprem_api.find_endpoint(client, url, {}, signed_in.answer))


def _sign_in_adfs(params: CheckParams, attempt: StepRunner, targets: Targets) -> dict:
    token = attempt.do(
        "token",
        targets.adfs_url,
        lambda: adfs.acquire_token(targets.adfs_url, targets.client_id, params.credential, targets.resource),
    )
    issued = "from msal's cache" if token.from_cache else "issued by AD FS"
    attempt.step("token").detail = f"{issued} for {targets.resource}"
    return {"Authorization": f"Bearer {token.access_token}"}


def _version(attempt: StepRunner, client, endpoint: onprem_api.Endpoint, url: str, auth: dict) -> str:
    """RetrieveVersion where the Web API has it; its failure does not undo a working WhoAmI (a warning)."""
    who = f": UserId {endpoint.user_id}" if endpoint.user_id else ""
    attempt.step("whoami").detail = f"{endpoint.kind} v{endpoint.version} answered{who}"
    if not endpoint.is_web_api:
        attempt.step("version").detail = ODATA_ONLY
        return ""
    return attempt.optional("version", url, lambda: onprem_api.retrieve_version(client, endpoint, url, auth))


def _outcome(endpoint: onprem_api.Endpoint, version: str, who: str, extra: dict) -> Available:
    details = {"endpoint": f"{endpoint.kind} v{endpoint.version}", "endpoint_url": endpoint.url, **extra}
    if not endpoint.is_web_api:
        details["version"] = "CRM 2011, 2013 or 2015 (no Web API)"
        return Available(
            f"signed in to Dynamics CRM as {who} through the OData v2 organization data service "
            f"(CRM 2011 to 2015, no Web API).",
            details,
        )
    details.update(
        organization_id=endpoint.organization_id,
        user_id=endpoint.user_id,
        business_unit_id=endpoint.business_unit_id,
        version=version or "unknown",
    )
    return Available(
        f"signed in to Dynamics CRM as user {endpoint.user_id} ({who}) in organization "
        f"{endpoint.organization_id} through the Web API v{endpoint.version}, version {version or 'unknown'}.",
        details,
    )


def outbound(params: CheckParams, runner: StepRunner) -> Targets:
    """Validate the inputs as the form does, then resolve and check the hosts this TEST will reach."""
    targets = _targets(params)
    hosts = []
    for url in [targets.org_url] + ([targets.adfs_url] if targets.adfs_url else []):
        parts = urlsplit(url)
        hosts.append((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)))
    runner.preflight(hosts)
    return targets


def _targets(params: CheckParams) -> Targets:
    try:
        org_url = normalize_url(params.url, CRM_2011)
        if params.auth_scheme == NTLM:
            normalize_windows_user(params.windows_user)
            return Targets(org_url)
        if params.auth_scheme == ADFS:
            resource = check_adfs_resource(params.adfs_resource) or default_adfs_resource(org_url)
            client_id = normalize_guid(params.client_id, field="Client ID")
            return Targets(org_url, normalize_adfs_url(params.adfs_url), client_id, resource)
    except InputError as error:
        raise CheckError("invalid_input", error.message, "Correct the connection and TEST again.") from error
    raise CheckError(
        "invalid_input",
        f"CRM2011+ (on-premises) servers sign in with NTLM or ADFS, not {params.auth_scheme}.",
        "Edit the connection and choose the Auth Scheme NTLM (a Windows account) or ADFS.",
    )
