"""A CRMOnline TEST signed in as this machine's managed identity, against the simulator's IMDS and App Service
endpoints (plain HTTP on 127.0.0.2, an address the operator's OUTBOUND_ALLOWED_NETWORKS does not allow: the guard
lets the TEST reach it on the managed identity's path only)."""

import ipaddress
import socket
import time

import msal
import pytest

from connections.dynamics import check, entra, http, managed_identity
from connections.dynamics.check import CheckParams
from connections.dynamics.managed_identity import ManagedIdentity
from connections.dynamics.schemes import CRM_ONLINE
from tests.helpers import ENV_URL, TEST_SECRET

ENDPOINT_HOST = "127.0.0.2"
LIMITS = http.Limits(total=10, connect=5, read=5, allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
PLATFORM_VARIABLES = (
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
)
SYSTEM = ManagedIdentity("system")


@pytest.fixture(autouse=True)
def no_platform(monkeypatch):
    """No managed-identity variables but the test's own, and no msal client from another test."""
    for name in PLATFORM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    managed_identity.clients.clear()
    yield
    managed_identity.clients.clear()


@pytest.fixture
def imds(microsoft, monkeypatch):
    endpoint = microsoft.sim.start_managed_identity_endpoint(kind="imds", host=ENDPOINT_HOST)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", endpoint.base_url)
    return endpoint


@pytest.fixture
def app_service(microsoft, monkeypatch):
    endpoint = microsoft.sim.start_managed_identity_endpoint(kind="app_service", host=ENDPOINT_HOST)
    monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint.base_url)
    monkeypatch.setenv("IDENTITY_HEADER", endpoint.identity_header)
    return endpoint


def identity_on(microsoft, endpoint, user_assigned=False, name="contoso-connector", member=True):
    identity = microsoft.sim.add_managed_identity(microsoft.tenant.tenant_id, user_assigned=user_assigned, name=name)
    endpoint.assign(identity)
    if member:
        microsoft.sim.add_application_user(ENV_URL, identity.client_id)
    return identity


def run(credential, url=ENV_URL) -> check.CheckResult:
    params = CheckParams(url, CRM_ONLINE, "", "", "GLOBAL", credential=credential)
    return check.run(params, LIMITS)


def step(result, key):
    return next(s for s in result.steps if s.key == key)


def test_it_signs_in_with_the_system_assigned_identity_through_imds(microsoft, imds):
    identity_on(microsoft, imds)
    result = run(SYSTEM)
    assert result.ok, result.summary
    assert result.message.startswith("Connection available")
    assert f"IMDS at http://{ENDPOINT_HOST}:{imds.port}" in step(result, "token").detail
    assert step(result, "expiry").status == "skipped"
    assert step(result, "expiry").detail == "a managed identity has no credential that expires"
    assert imds.count() == 1
    assert microsoft.sim.count(host="login.microsoftonline.com") == 0


@pytest.mark.parametrize("kind", ["client_id", "resource_id"])
@pytest.mark.parametrize("platform", ["imds", "app_service"])
def test_it_signs_in_with_a_user_assigned_identity_by_client_id_or_resource_id(microsoft, request, kind, platform):
    endpoint = request.getfixturevalue(platform)
    identity_on(microsoft, endpoint, user_assigned=True, name="other")
    chosen = identity_on(microsoft, endpoint, user_assigned=True, name="chosen")
    result = run(ManagedIdentity(kind, getattr(chosen, kind)))
    assert result.ok, result.summary
    assert (
        result.details["user_id"]
        == microsoft.sim.directory.find_application_user(microsoft.env, chosen.client_id).user_id
    )


def test_a_second_test_is_served_from_msals_cache(microsoft, app_service):
    identity_on(microsoft, app_service)
    assert run(SYSTEM).ok
    second = run(SYSTEM)
    assert second.ok, second.summary
    assert step(second, "token").detail == "from msal's cache"
    assert app_service.count() == 1


def test_it_says_where_to_turn_on_a_system_assigned_identity_that_is_off(microsoft, imds):
    identity_on(microsoft, imds, user_assigned=True)
    identity_on(microsoft, imds, user_assigned=True, name="second")
    result = run(SYSTEM)
    assert result.code == "managed_identity_not_found"
    assert "Multiple user assigned identities" in result.message
    assert "choose one by its client ID or resource ID" in result.hint
    microsoft.sim.reset()  # no identity at all
    imds = microsoft.sim.start_managed_identity_endpoint(kind="imds", host=ENDPOINT_HOST, port=imds.port)
    result = run(SYSTEM)
    assert result.code == "managed_identity_not_found", result.summary
    assert "no system-assigned managed identity" in result.message and "Identity not found" in result.message
    assert "Security > Identity > System assigned > On" in result.hint and "azcmagent connect" in result.hint


@pytest.mark.parametrize("platform", ["imds", "app_service"])
def test_it_says_to_assign_a_user_assigned_identity_this_machine_lacks(microsoft, request, platform):
    endpoint = request.getfixturevalue(platform)
    identity_on(microsoft, endpoint)
    result = run(ManagedIdentity("client_id", "6a1f3d3e-0000-4000-8000-000000000001"))
    assert result.code == "managed_identity_not_found", result.summary
    assert "user-assigned (client ID 6a1f3d3e-0000-4000-8000-000000000001)" in result.message
    assert "User assigned > Add" in result.hint and "client ID" in result.hint
    assert result.details["http_status"] == "400"


def test_it_passes_on_the_endpoints_words_for_an_unknown_resource(microsoft, imds):
    identity_on(microsoft, imds)
    result = run(SYSTEM, url="https://nowhere.crm.dynamics.com/")
    assert result.code == "managed_identity_error"
    assert "AADSTS500011" in result.message and "https://nowhere.crm.dynamics.com" in result.message
    assert "eyJ" not in result.summary + str(result.details)


def test_app_service_answering_500_for_an_unknown_resource_is_an_error_with_its_text(microsoft, app_service):
    identity_on(microsoft, app_service)
    result = run(SYSTEM, url="https://nowhere.crm.dynamics.com/")
    assert result.code == "managed_identity_error"
    assert "An unexpected error occured while fetching the AAD Token." in result.message
    assert result.details["http_status"] == "500"


def test_a_stale_identity_header_says_to_restart_the_app(microsoft, app_service, monkeypatch):
    identity_on(microsoft, app_service)
    monkeypatch.setenv("IDENTITY_HEADER", "stale")
    result = run(SYSTEM)
    assert result.code == "managed_identity_error"
    assert result.details["http_status"] == "401" and "restart the app" in result.hint


def test_an_endpoint_error_is_not_replayed_by_msal_once_the_endpoint_recovers(microsoft, imds):
    identity_on(microsoft, imds)
    microsoft.sim.set_responses([(500, {}, {"error": "unknown", "error_description": "Failed to retrieve token"})])
    failed = run(SYSTEM)
    assert failed.code == "managed_identity_error" and "Failed to retrieve token" in failed.message
    assert failed.details["http_status"] == "500"
    assert run(SYSTEM).ok  # msal would have throttled the 5xx for 5 s in the client it was given
    assert imds.count() == 2


def test_a_redirect_from_the_endpoint_is_never_followed(microsoft, imds):
    identity_on(microsoft, imds)
    microsoft.sim.set_redirect("https://contoso.crm.dynamics.com/elsewhere", host=ENDPOINT_HOST)
    result = run(SYSTEM)
    assert result.code == "managed_identity_error" and "HTTP 302 that is not JSON" in result.message
    assert microsoft.sim.count(path_contains="/elsewhere") == 0


def test_an_endpoint_that_accepts_but_never_answers_is_an_error_within_the_read_timeout(microsoft, imds):
    identity_on(microsoft, imds)
    microsoft.sim.set_silent(host=ENDPOINT_HOST)
    limits = http.Limits(total=5, connect=1, read=0.5, allowed_networks=LIMITS.allowed_networks)
    result = check.run(CheckParams(ENV_URL, CRM_ONLINE, "", "", "GLOBAL", credential=SYSTEM), limits)
    assert result.code == "managed_identity_error" and "did not answer in time" in result.message
    assert result.elapsed < 2


def test_without_an_application_user_whoami_advice_names_the_identitys_application_id(microsoft, imds):
    identity = identity_on(microsoft, imds, member=False)
    result = run(SYSTEM)
    assert result.code == "no_application_user", result.summary
    assert f"application ID {identity.client_id}" in result.hint
    assert result.details["application_id"] == identity.client_id


def test_nothing_answering_is_managed_identity_unavailable_at_once(microsoft, monkeypatch):
    with socket.socket() as probe:
        probe.bind((ENDPOINT_HOST, 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", f"http://{ENDPOINT_HOST}:{closed}")
    started = time.monotonic()
    result = run(SYSTEM)
    assert time.monotonic() - started < 2
    assert result.code == "managed_identity_unavailable"
    assert "this server does not run on Azure, or its managed identity endpoint is unreachable" in result.message


def test_an_endpoint_name_that_does_not_resolve_is_unavailable(microsoft, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://identity.nowhere.invalid/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "x")
    result = run(SYSTEM)
    assert result.code == "managed_identity_unavailable"
    assert "App Service (IDENTITY_ENDPOINT)" in result.message


def test_service_fabric_is_refused_before_msal_builds_a_session_outside_the_guard(microsoft, app_service, monkeypatch):
    monkeypatch.setenv("IDENTITY_SERVER_THUMBPRINT", "a" * 40)
    result = run(SYSTEM)
    assert result.code == "managed_identity_error" and "Service Fabric" in result.message
    assert app_service.count() == 0


# --- the outbound guard ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", [ENDPOINT_HOST, "169.254.169.254"])
def test_a_dataverse_url_at_the_endpoints_address_is_refused_even_in_a_managed_identity_test(
    microsoft, resolver, imds, address
):
    identity_on(microsoft, imds)
    resolver.add("evil.crm.dynamics.com", address, imds.port)
    result = run(SYSTEM, url="https://evil.crm.dynamics.com/")
    assert result.code == "outbound_blocked" and result.step == "outbound"
    assert imds.count() == 0


@pytest.mark.parametrize("address", [ENDPOINT_HOST, "169.254.169.254"])
def test_a_client_secret_test_never_reaches_the_managed_identity_endpoint(microsoft, resolver, imds, address):
    identity_on(microsoft, imds)
    params = CheckParams(
        ENV_URL, CRM_ONLINE, microsoft.tenant.tenant_id, microsoft.app.client_id, "GLOBAL", credential=TEST_SECRET
    )
    microsoft.sim.add_secret(microsoft.app.client_id, value=TEST_SECRET)
    assert check.run(params, LIMITS).ok
    resolver.add("evil.crm.dynamics.com", address, imds.port)
    refused = check.run(
        CheckParams(
            "https://evil.crm.dynamics.com/", CRM_ONLINE, params.azure_tenant, params.client_id, "GLOBAL", TEST_SECRET
        ),
        LIMITS,
    )
    assert refused.code == "outbound_blocked"
    assert imds.count() == 0


def test_the_endpoint_is_allowed_only_around_the_msal_call(microsoft, imds):
    identity_on(microsoft, imds)
    endpoint = ipaddress.ip_address(ENDPOINT_HOST)
    from connections.dynamics import guard

    with http.budget(LIMITS):
        assert guard.refusal_reason(endpoint) is not None
        managed_identity.acquire_token(SYSTEM, ENV_URL)
        assert guard.refusal_reason(endpoint) is not None
        with guard.allowing_platform_endpoint(ENDPOINT_HOST, imds.port):
            assert guard.refusal_reason(endpoint) is None
            assert guard.refusal_reason(ipaddress.ip_address("127.0.0.3")) is not None


# --- the pieces ------------------------------------------------------------------------------------------------

ENVIRONMENTS = [
    ({}, "IMDS", "IMDS at http://169.254.169.254"),
    ({"AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://10.0.0.1/"}, "IMDS", "IMDS at http://10.0.0.1 (AZURE_POD_"),
    ({"IDENTITY_ENDPOINT": "http://127.0.0.1:41/msi/token", "IDENTITY_HEADER": "h"}, "App Service", "App Service"),
    (
        {"IDENTITY_ENDPOINT": "http://localhost:40342/t", "IMDS_ENDPOINT": "http://localhost:40342"},
        "Azure Arc",
        "Azure Arc (IDENTITY_ENDPOINT)",
    ),
    (
        {"MSI_ENDPOINT": "http://127.0.0.1:41/", "MSI_SECRET": "s"},
        "Azure Machine Learning",
        "Azure Machine Learning (MSI_ENDPOINT)",
    ),
    ({"MSI_ENDPOINT": "http://127.0.0.1:41/"}, "IMDS", "IMDS at http://169.254.169.254"),  # no MSI_SECRET: msal's VM
    (
        {"IDENTITY_ENDPOINT": "https://sf:2377/", "IDENTITY_HEADER": "h", "IDENTITY_SERVER_THUMBPRINT": "t"},
        "Service Fabric",
        "Service",
    ),
]
MSAL_SOURCES = {
    "IMDS": msal.managed_identity.DEFAULT_TO_VM,
    "App Service": msal.managed_identity.APP_SERVICE,
    "Azure Arc": msal.managed_identity.AZURE_ARC,
    "Azure Machine Learning": msal.managed_identity.MACHINE_LEARNING,
    "Service Fabric": msal.managed_identity.SERVICE_FABRIC,
}


@pytest.mark.parametrize(("variables", "platform", "description"), ENVIRONMENTS)
def test_it_reads_the_endpoint_as_msal_does(monkeypatch, variables, platform, description):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert managed_identity.endpoint().platform == platform
    assert msal.managed_identity.get_managed_identity_source() is MSAL_SOURCES[platform]
    assert managed_identity.endpoint_description().startswith(description)


def test_an_identity_describes_itself_and_has_a_fingerprint_without_a_secret():
    by_client = ManagedIdentity("client_id", "6a1f3d3e-0000-4000-8000-000000000001")
    assert SYSTEM.describe() == "system-assigned"
    assert by_client.describe() == "user-assigned (client ID 6a1f3d3e-0000-4000-8000-000000000001)"
    assert entra.credential_fingerprint(SYSTEM) != entra.credential_fingerprint(by_client)
    assert CheckParams(ENV_URL, CRM_ONLINE, "", "", "GLOBAL", credential=by_client).secrets() == []
    with pytest.raises(ValueError):
        ManagedIdentity("client_id")


def test_token_app_id_reads_the_claim_without_verifying():
    import jwt

    token = jwt.encode({"appid": "app-1", "azp": "app-2"}, "k" * 32, algorithm="HS256")
    assert managed_identity.token_app_id(token) == "app-1"
    assert managed_identity.token_app_id(jwt.encode({"azp": "app-2"}, "k" * 32, algorithm="HS256")) == "app-2"
    assert managed_identity.token_app_id("not a token") == ""


def test_the_managed_identity_connect_timeout_is_at_most_three_seconds():
    client = managed_identity.clients.http_client()
    assert client._timeouts(http.Deadline(30, 5, 15)) == (3.0, 15)
    assert client._timeouts(http.Deadline(30, 1, 15)) == (1, 15)
