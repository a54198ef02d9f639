"""The TEST of a CRM2011+ (on-premises) connection: outbound check, sign-in with NTLM or a token from AD FS,
WhoAmI on the newest endpoint the server has, and its version.

Called by `check.run` with the run's steps; returns what the success message says and its details.
"""

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables

from connections.dynamics import adfs, crm_api, guard, http, ntlm
from connections.dynamics.errors import CheckError, OutboundBlockedError
from connections.dynamics.inputs import (
    check_adfs_resource,
    default_adfs_resource,
    normalize_adfs_url,
    normalize_guid,
    normalize_url,
    normalize_windows_user,
)

NTLM = "NTLM"
ADFS = "ADFS"
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


@dataclass(frozen=True)
class Outcome:
    text: str  # what follows "Connection available: "
    details: dict = field(default_factory=dict)


def check(params, attempt) -> Outcome:
    """Run the on-premises TEST's steps on `attempt` (check._Run); CheckError when a step fails."""
    targets = attempt.do("outbound", params.url, lambda: outbound(params))
    if params.auth_scheme == NTLM:
        return _check_ntlm(params, attempt, targets)
    return _check_adfs(params, attempt, targets)


@sensitive_variables("params")
def _check_ntlm(params, attempt, targets: Targets) -> Outcome:
    url, user = targets.org_url, params.windows_user
    with ntlm.session(user, params.credential) as client:
        signed_in = attempt.do("token", url, lambda: ntlm.sign_in(client, crm_api.first_probe(url), user))
        step = attempt.step("token")
        step.detail = f"Windows accepted {user}."
        if not signed_in.handshake:
            step.status, step.detail = "warning", "The server answered without asking for Windows credentials."
        endpoint = attempt.do("whoami", url, lambda: crm_api.find_endpoint(client, url, {}, signed_in.answer))
        version = _version(attempt, client, endpoint, url, {})
    return _outcome(endpoint, version, f"Windows user {user}", {"windows_user": user})


@sensitive_variables("params", "token", "auth")
def _check_adfs(params, attempt, targets: Targets) -> Outcome:
    url = targets.org_url
    token = attempt.do(
        "token",
        targets.adfs_url,
        lambda: adfs.acquire_token(targets.adfs_url, targets.client_id, params.credential, targets.resource),
    )
    issued = "from msal's cache" if token.from_cache else "issued by AD FS"
    attempt.step("token").detail = f"{issued} for {targets.resource}"
    auth = {"Authorization": f"Bearer {token.access_token}"}
    endpoint = attempt.do("whoami", url, lambda: crm_api.find_endpoint(http.client, url, auth))
    version = _version(attempt, http.client, endpoint, url, auth)
    details = {"adfs": targets.adfs_url, "adfs_resource": targets.resource}
    return _outcome(endpoint, version, f"AD FS client {targets.client_id}", details)


def _version(attempt, client, endpoint: crm_api.Endpoint, url: str, auth: dict) -> str:
    """RetrieveVersion where the Web API has it; its failure does not undo a working WhoAmI (a warning)."""
    who = f": UserId {endpoint.user_id}" if endpoint.user_id else ""
    attempt.step("whoami").detail = f"{endpoint.kind} v{endpoint.version} answered{who}"
    step = attempt.step("version")
    if not endpoint.is_web_api:
        step.detail = ODATA_ONLY
        return ""
    try:
        version = attempt.do("version", url, lambda: crm_api.retrieve_version(client, endpoint, url, auth))
    except CheckError as error:
        step.status, step.detail = "warning", error.message
        return ""
    step.detail = version
    return version


def _outcome(endpoint: crm_api.Endpoint, version: str, who: str, extra: dict) -> Outcome:
    details = {"endpoint": f"{endpoint.kind} v{endpoint.version}", "endpoint_url": endpoint.url, **extra}
    if not endpoint.is_web_api:
        details["version"] = "CRM 2011, 2013 or 2015 (no Web API)"
        return Outcome(
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
    return Outcome(
        f"signed in to Dynamics CRM as user {endpoint.user_id} ({who}) in organization "
        f"{endpoint.organization_id} through the Web API v{endpoint.version}, version {version or 'unknown'}.",
        details,
    )


def outbound(params) -> Targets:
    """Validate the inputs as the form does, then resolve and check the hosts this TEST will reach."""
    targets = _targets(params)
    hosts = [targets.org_url] + ([targets.adfs_url] if targets.adfs_url else [])
    for url in hosts:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            guard.preflight(parts.hostname, port)
        except OutboundBlockedError as error:
            raise blocked(error) from None
        except OSError:
            raise name_not_resolved(parts.hostname) from None
    return targets


def _targets(params) -> Targets:
    try:
        org_url = normalize_url(params.url, params.crm_version)
        if params.auth_scheme == NTLM:
            normalize_windows_user(params.windows_user)
            return Targets(org_url)
        if params.auth_scheme == ADFS:
            resource = check_adfs_resource(params.adfs_resource) or default_adfs_resource(org_url)
            client_id = normalize_guid(params.client_id, field="Client ID")
            return Targets(org_url, normalize_adfs_url(params.adfs_url), client_id, resource)
    except ValidationError as error:
        raise CheckError("invalid_input", " ".join(error.messages), "Correct the connection and TEST again.") from None
    raise CheckError(
        "invalid_input",
        f"CRM2011+ (on-premises) servers sign in with NTLM or ADFS, not {params.auth_scheme}.",
        "Edit the connection and choose the Auth Scheme NTLM (a Windows account) or ADFS.",
    )


def blocked(error: OutboundBlockedError) -> CheckError:
    """The guard's refusal, with what an operator must set for a server on a private network."""
    ip = ipaddress.ip_address(error.ip)
    network = f"{ip}/{ip.max_prefixlen}"
    return CheckError(
        "outbound_blocked",
        f"The outbound guard refused {error.host}: it resolves to {error.ip}, {error.reason}.",
        "On-premises servers usually live on a private network, which TEST reaches only when an operator allows "
        f"it: add the server's network to the OUTBOUND_ALLOWED_NETWORKS setting (comma-separated CIDRs, such as "
        f"{network} for this server alone, or its subnet) and restart the app. See the README (CRM2011+).",
        {"host": error.host, "address": error.ip, "setting": "OUTBOUND_ALLOWED_NETWORKS"},
    )


def name_not_resolved(host: str) -> CheckError:
    return CheckError(
        "dns_failed",
        f"The name {host} cannot be resolved (DNS).",
        "Check the URL for typos. An on-premises server's name must resolve on the machine this app runs on "
        "(internal DNS); its IP address in the URL works too.",
        {"host": host},
    )
