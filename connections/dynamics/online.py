"""The TEST of a CRMOnline connection: outbound check, token from Entra ID, Dataverse WhoAmI, Dataverse version.

AzureServicePrincipal signs in as the app (client secret or certificate); AzureAD uses the stored delegated
sign-in, whose refreshed token cache goes back to the caller on the runner.
"""

from urllib.parse import urlsplit

from connections.dynamics import dataverse, delegated, entra
from connections.dynamics.clouds import CLOUDS, Cloud
from connections.dynamics.errors import CheckError, InputError
from connections.dynamics.inputs import check_online_host, normalize_guid, normalize_tenant, normalize_url
from connections.dynamics.runner import Available, CheckParams, StepRunner
from connections.dynamics.schemes import AZURE_AD, CRM_ONLINE

STEPS = (
    ("outbound", "Outbound check"),
    ("token", "Token from Entra ID"),
    ("whoami", "Dataverse WhoAmI"),
    ("version", "Dataverse version"),
)


def steps_for(auth_scheme: str) -> tuple[tuple[str, str], ...]:
    return STEPS


def check(params: CheckParams, runner: StepRunner) -> Available:
    """Run CRMOnline's steps on `runner`; CheckError when one fails."""
    url, cloud = runner.do("outbound", params.url, lambda: _outbound(params, runner))
    token = runner.do("token", f"https://{cloud.authority_host}/", lambda: _token(params, cloud, url))
    runner.step("token").detail = "from msal's cache" if token.from_cache else "issued by Entra ID"
    runner.updated_token_cache = getattr(token, "token_cache", None)
    # RetrieveVersion does not wait for WhoAmI: both go out at once, on two connections of the pool.
    version_answer = runner.launch("version", lambda: dataverse.retrieve_version(url, token.access_token))
    who = runner.do("whoami", url, lambda: dataverse.who_am_i(url, token.access_token))
    runner.step("whoami").detail = f"UserId {who.user_id}"
    version = runner.optional("version", url, version_answer)
    who_kind = "user" if params.auth_scheme == AZURE_AD else "application user"
    details = {
        "organization_id": who.organization_id,
        "user_id": who.user_id,
        "business_unit_id": who.business_unit_id,
        "version": version or "unknown",
    }
    return Available(
        f"signed in to Dataverse as {who_kind} {who.user_id} in organization {who.organization_id}, "
        f"version {version or 'unknown'}.",
        details,
    )


def _token(params: CheckParams, cloud: Cloud, url: str):
    tenant = normalize_tenant(params.azure_tenant)
    client_id = normalize_guid(params.client_id, field="Client ID")
    if params.auth_scheme == AZURE_AD:
        return delegated.acquire(cloud, tenant, client_id, params.credential, url, params.token_cache)
    return entra.acquire_token(cloud, tenant, client_id, params.credential, url)


def _outbound(params: CheckParams, runner: StepRunner) -> tuple[str, Cloud]:
    """Validate the inputs as the form does, then resolve and check the hosts this TEST will reach."""
    try:
        url = normalize_url(params.url, CRM_ONLINE)
        cloud = CLOUDS[params.azure_environment]
        check_online_host(url, params.azure_environment)
    except InputError as error:
        raise CheckError("invalid_input", error.message, "Correct the URL and TEST again.") from error
    except KeyError as error:
        raise CheckError("invalid_input", "Choose an Azure Environment.", "") from error
    runner.preflight([(urlsplit(url).hostname, 443), (cloud.authority_host, 443)])
    return url, cloud
