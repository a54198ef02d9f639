"""The TEST of a CRMOnline connection: outbound check, token from Entra ID, Dataverse WhoAmI, Dataverse version,
and the app credential's expiry from Microsoft Graph.

AzureServicePrincipal signs in as the app (client secret or certificate); AzureAD uses the stored delegated
sign-in, whose refreshed token cache goes back to the caller on the runner. Both have the app's own credential (an
AzureAD app is a confidential client), whose expiry an app-only Graph token reads.
"""

from concurrent.futures import TimeoutError as FutureTimeoutError
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from connections.dynamics import credential_expiry, dataverse, delegated, entra, managed_identity
from connections.dynamics.clouds import CLOUDS, Cloud
from connections.dynamics.errors import CheckError, InputError
from connections.dynamics.federated import FederatedCredential
from connections.dynamics.inputs import check_online_host, normalize_guid, normalize_tenant, normalize_url
from connections.dynamics.managed_identity import ManagedIdentity
from connections.dynamics.runner import Available, CheckParams, StepRunner
from connections.dynamics.schemes import AZURE_AD, CRM_ONLINE, SERVICE_PRINCIPAL

STEPS = (
    ("outbound", "Outbound check"),
    ("token", "Token from Entra ID"),
    ("whoami", "Dataverse WhoAmI"),
    ("version", "Dataverse version"),
)
EXPIRY_STEP = ("expiry", "Credential expiry")
MANAGED_IDENTITY_TOKEN = "Token from the managed identity"
APP_CREDENTIAL_SCHEMES = (SERVICE_PRINCIPAL, AZURE_AD)
# Once the rest of the TEST is done, how long it still waits for Microsoft Graph: the expiry never holds it up.
EXPIRY_GRACE_SECONDS = 3.0
NOTHING_EXPIRES = {
    "federated": "a federated credential has no secret or certificate that expires",
    "identity": "a managed identity has no credential that expires",
}
TYPED_NOT_READ = (
    "read from Microsoft Graph once the credential is saved: by the connection's next TEST or scheduled re-test"
)


def steps_for(auth_scheme: str) -> tuple[tuple[str, str], ...]:
    """Both schemes sign in with the app's own credential (AzureAD's is a confidential client too): its expiry."""
    return (*STEPS, EXPIRY_STEP) if auth_scheme in APP_CREDENTIAL_SCHEMES else STEPS


def check(params: CheckParams, runner: StepRunner) -> Available:
    """Run CRMOnline's steps on `runner`; CheckError when one fails."""
    if isinstance(params.credential, ManagedIdentity):
        runner.step("token").label = MANAGED_IDENTITY_TOKEN
    url, cloud = runner.do("outbound", params.url, lambda: outbound(params, runner))
    token_url = _token_url(params, cloud)
    token = runner.do("token", token_url, lambda: acquire_token(params, cloud, url))
    runner.step("token").detail = "from msal's cache" if token.from_cache else f"issued by {_issuer(params)}"
    runner.updated_token_cache = getattr(token, "token_cache", None)
    # RetrieveVersion and the credential's expiry do not wait for WhoAmI: all go out at once.
    expiry_answer = _launch_expiry(params, cloud, runner)
    version_answer = runner.launch("version", lambda: dataverse.retrieve_version(url, token.access_token))
    who = runner.do("whoami", url, lambda: _who_am_i(params, url, token.access_token))
    runner.step("whoami").detail = f"UserId {who.user_id}"
    version = runner.optional("version", url, version_answer)
    if expiry_answer is not None:
        runner.optional("expiry", f"https://{cloud.graph_host}/", expiry_answer)
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


def _launch_expiry(params: CheckParams, cloud: Cloud, runner: StepRunner):
    """The expiry step's answer: the caller's fresh reading as it is, else Microsoft Graph asked beside WhoAmI."""
    if params.auth_scheme not in APP_CREDENTIAL_SCHEMES or not params.credential:
        return None
    not_read = _expiry_not_read(params)
    if not_read:
        runner.step("expiry").detail = not_read
        return None
    known = params.known_expiry
    if known is not None:
        return lambda: _known(known)

    def ask() -> str:
        tenant, client_id = normalize_tenant(params.azure_tenant), normalize_guid(params.client_id, field="Client ID")
        try:
            reading = credential_expiry.read(cloud, tenant, client_id, params.credential)
        except CheckError as error:
            runner.expiry_reading = credential_expiry.refused(error, params.credential)
            raise
        runner.expiry_reading = reading
        return expiry_text(reading.expires_at, "read from Microsoft Graph just now", reading.note)

    answer = runner.launch("expiry", ask)

    def within_grace() -> str:
        try:
            return answer(timeout=EXPIRY_GRACE_SECONDS)
        except FutureTimeoutError as error:
            raise CheckError(
                "expiry_timeout",
                f"Microsoft Graph did not answer within {EXPIRY_GRACE_SECONDS:g} s of the rest of the TEST: the "
                "credential's expiry was not waited for.",
                "TEST again later. " + credential_expiry.TYPE_IT_HINT,
            ) from error

    return within_grace


def _expiry_not_read(params: CheckParams) -> str:
    """Why the expiry step asks Microsoft Graph nothing: no secret that expires, or a credential not saved yet."""
    if isinstance(params.credential, ManagedIdentity):
        return NOTHING_EXPIRES["identity"]
    if isinstance(params.credential, FederatedCredential):
        return NOTHING_EXPIRES["federated"]
    return "" if params.read_expiry else TYPED_NOT_READ


def _known(known) -> str:
    """The stored reading as the step's detail, or the refusal Graph gave when it was last asked (a warning)."""
    if known.expires_at is not None:
        return expiry_text(known.expires_at, f"read from Microsoft Graph {_ago(known.read_at)}")
    error = credential_expiry.graph_error(403, "")
    error.details.clear()  # nothing was asked this time
    asked_again = known.read_at + timedelta(hours=credential_expiry.REFUSAL_REMEMBERED_HOURS)
    error.message += f" (Graph's answer {_ago(known.read_at)}; it is asked again after {asked_again:%H:%M} UTC.)"
    raise error


def expiry_text(expires_at: datetime, source: str, note: str = "") -> str:
    """The step's detail; a CheckError (so a warning) when the credential has expired or expires within 30 days."""
    days = (expires_at - datetime.now(UTC)).total_seconds() / 86400
    text = f"expires {expires_at:%Y-%m-%d} ({source}){' ' + note if note else ''}"
    if days <= 0:
        raise CheckError(
            "credential_expired",
            f"The credential expired on {expires_at:%Y-%m-%d} ({source}).",
            credential_expiry.RENEW_HINT,
        )
    if days <= credential_expiry.WARN_DAYS:
        left = (expires_at.date() - datetime.now(UTC).date()).days  # calendar days, as the date shown reads
        when = {0: "today", 1: "tomorrow"}.get(left, f"in {left} days")
        raise CheckError("credential_expiring", f"{text}: {when}.", credential_expiry.RENEW_HINT)
    return text


def _ago(moment: datetime) -> str:
    hours = int((datetime.now(UTC) - moment).total_seconds() // 3600)
    if hours < 1:
        return "less than an hour ago"
    return f"{hours} hour{'s' if hours != 1 else ''} ago"


def acquire_token(params: CheckParams, cloud: Cloud, url: str):
    """A Dataverse token: the app's own (client credentials), the signed-in user's (AzureAD, delegated) or this
    machine's managed identity's."""
    if isinstance(params.credential, ManagedIdentity):
        return managed_identity.acquire_token(params.credential, url)
    tenant = normalize_tenant(params.azure_tenant)
    client_id = normalize_guid(params.client_id, field="Client ID")
    if params.auth_scheme == AZURE_AD:
        return delegated.acquire(cloud, tenant, client_id, params.credential, url, params.token_cache)
    if isinstance(params.credential, FederatedCredential) and not params.credential.issuer:
        raise CheckError(
            "federation_not_configured",
            "Federated (no secret) needs this site's public https address as its OpenID Connect issuer: SITE_URL "
            "is not set.",
            "Ask whoever runs this app to set SITE_URL to the address Microsoft Entra ID can reach it at "
            "(like https://gathr.contoso.com), then register the federated credential with the Issuer it shows.",
        )
    return entra.acquire_token(cloud, tenant, client_id, params.credential, url)


def outbound(params: CheckParams, runner: StepRunner) -> tuple[str, Cloud]:
    """Validate the inputs as the form does, then resolve and check the hosts this TEST will reach."""
    try:
        url = normalize_url(params.url, CRM_ONLINE)
        cloud = CLOUDS[params.azure_environment]
        check_online_host(url, params.azure_environment)
    except InputError as error:
        raise CheckError("invalid_input", error.message, "Correct the URL and TEST again.") from error
    except KeyError as error:
        raise CheckError("invalid_input", "Choose an Azure Environment.", "") from error
    # A managed identity's endpoint is the platform's, checked on its own path (managed_identity.acquire_token).
    authority = [] if isinstance(params.credential, ManagedIdentity) else [(cloud.authority_host, 443)]
    runner.preflight([(urlsplit(url).hostname, 443), *authority])
    return url, cloud


def _token_url(params: CheckParams, cloud: Cloud) -> str:
    if isinstance(params.credential, ManagedIdentity):
        return managed_identity.endpoint().url
    return f"https://{cloud.authority_host}/"


def _issuer(params: CheckParams) -> str:
    if isinstance(params.credential, ManagedIdentity):
        return f"the managed identity endpoint ({managed_identity.endpoint_description()})"
    return "Entra ID"


def _who_am_i(params: CheckParams, url: str, access_token: str) -> dataverse.WhoAmI:
    """WhoAmI; for a managed identity, 0x80072560's advice names the identity's application ID."""
    try:
        return dataverse.who_am_i(url, access_token)
    except CheckError as error:
        if error.code == "no_application_user" and isinstance(params.credential, ManagedIdentity):
            app_id = managed_identity.token_app_id(access_token)
            error.message = error.message.replace("the app has", "the managed identity's application has")
            error.hint = managed_identity.application_user_hint(app_id)
            error.details["application_id"] = app_id
        raise
