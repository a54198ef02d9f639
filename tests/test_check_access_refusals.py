"""Check access's failures that peers leave unexplained, each with its advice: an app blocked by app access control
(AzureAD), the IP firewall, service protection limits, a page that never ends, a disabled app (AADSTS7000112);
and on-premises servers: CRM 2016+ through the Web API, CRM 2011 through the OData v2 service."""

import ipaddress

import pytest

from connections.access_checks import AccessCheck
from connections.dynamics import entra, http, tables
from connections.dynamics.clouds import CLOUDS
from tests.azure_ad_helpers import add_delegated_connection, sign_in
from tests.simulator.conftest import ENV_URL
from tests.test_check_access import check, latest, read, tested  # noqa: F401 - the fixture


def test_an_app_blocked_by_app_access_control_is_explained(admin_client, microsoft, settings, make_connection):
    delegated = add_delegated_connection(microsoft, settings, make_connection)
    sign_in(admin_client, delegated)
    assert admin_client.post(f"/connections/{delegated.saved.pk}/test/", HTTP_ACCEPT="application/json").json()["ok"]
    microsoft.sim.block_app(ENV_URL, microsoft.app.client_id)
    check(admin_client, delegated.saved)
    result = latest(delegated.saved)
    assert result["ok"] is False and result["code"] == "app_blocked" and result["step"] == "whoami"
    assert "app access control blocks this application" in result["message"]
    assert "App access control" in result["hint"] and "Client ID" in result["hint"]


def test_a_signed_in_user_s_tables_are_checked_as_that_user(admin_client, microsoft, settings, make_connection):
    delegated = add_delegated_connection(microsoft, settings, make_connection)
    sign_in(admin_client, delegated)
    admin_client.post(f"/connections/{delegated.saved.pk}/test/", HTTP_ACCEPT="application/json")
    check(admin_client, delegated.saved)
    result = latest(delegated.saved)
    assert result["ok"] is True, result["message"]
    assert result["principal"] == {"user_id": delegated.member.user_id, "kind": "signed-in user"}


def test_the_ip_firewall_refusing_this_server_is_explained(admin_client, tested):  # noqa: F811
    tested.sim.set_ip_firewall(ENV_URL, allowed=["10.0.0.0/8"], allow_application_users=False)
    check(admin_client, tested.saved)
    result = latest(tested.saved)
    assert result["ok"] is False and result["code"] == "ip_firewall"
    assert "IP firewall refuses this server's address" in result["message"]
    assert "IP address settings" in result["hint"]


def test_service_protection_limits_are_waited_for_within_the_budget_then_reported(admin_client, tested):  # noqa: F811
    # WhoAmI, the table list and the privileges pass; every read then meets a 429 with Retry-After: 1.
    tested.sim.set_service_protection(ENV_URL, requests=10, remaining_requests=3, retry_after=1)
    check(admin_client, tested.saved, "")
    result = latest(tested.saved)
    assert result["ok"] is True
    account = read(result, "account")
    assert account["readable"] is None and account["code"] == "0x80072322"
    assert "service protection limits" in account["message"] and "even after one retry" in account["message"]
    reads = [r for r in tested.sim.requests if r.path.endswith("/accounts") and "top=1" in r.query]
    assert len(reads) == 2  # one polite retry after the Retry-After, within the budget
    assert result["elapsed"] < 30


def test_a_disabled_application_is_explained(admin_client, tested):  # noqa: F811
    tested.sim.disable_app(tested.app.client_id)
    entra.apps.clear()  # a new token is asked for (a cached one would still work until it expires)
    check(admin_client, tested.saved)
    result = latest(tested.saved)
    assert result["ok"] is False and result["code"] == "application_disabled" and result["step"] == "token"
    assert "Enabled for users to sign in" in result["hint"]


def app_token(microsoft) -> str:
    cloud = CLOUDS["public"] if "public" in CLOUDS else next(iter(CLOUDS.values()))
    token = entra.acquire_token(
        cloud, microsoft.tenant.tenant_id, microsoft.app.client_id, microsoft.secret.value, ENV_URL
    )
    return token.access_token


def test_a_page_that_never_ends_is_bounded(microsoft):
    microsoft.sim.set_endless_paging(ENV_URL, "accounts")
    limits = http.Limits(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    with http.budget(limits):
        auth = {"Authorization": f"Bearer {app_token(microsoft)}"}
        base = tables.api_base(ENV_URL, "9.2")
        rows, warnings = tables.collect(http.client, base + "accounts", auth, "The accounts", max_pages=3)
        listing = tables.public_tables(http.client, base, auth, max_tables=3)
    assert len([r for r in microsoft.sim.requests if r.path.endswith("/accounts")]) == 3
    assert rows and warnings == ["The accounts did not end after 3 pages: only those were read."]
    assert len(listing.tables) == 3
    assert listing.warnings[0].startswith("More than 3 public tables: only the first 3 are listed.")


@pytest.fixture
def onprem_connection(onprem, make_connection, admin_client):
    def make(server):
        connection = make_connection(
            url=server.url, crm_version="CRM2011+", auth_scheme="NTLM", windows_user="CONTOSO\\maria",
            client_id="", azure_tenant="", client_secret="",
        )  # fmt: skip
        connection.set_windows_password(onprem.password)
        connection.save()
        answer = admin_client.post(f"/connections/{connection.pk}/test/", HTTP_ACCEPT="application/json").json()
        assert answer["ok"] is True, answer["message"]
        return connection

    return make


def test_crm_2016_is_checked_through_the_web_api(admin_client, onprem, onprem_connection):
    connection = onprem_connection(onprem.crm2016)
    onprem.sim.define_role(onprem.crm2016, "Accounts", {"prvReadAccount": "Global"})
    onprem.sim.set_roles(onprem.crm2016, onprem.users["crm2016"], "Accounts")
    check(admin_client, connection)
    result = latest(connection)
    assert result["ok"] is True, result["message"]
    assert read(result, "account")["readable"] is True
    contact = read(result, "contact")
    assert contact["readable"] is False and contact["privilege"] == "prvReadContact"
    assert "Settings > Security > Security Roles" in contact["hint"]
    assert result["principal"]["user_id"] == onprem.users["crm2016"].user_id


def test_crm_2011_is_checked_through_the_odata_v2_service(admin_client, onprem, onprem_connection):
    connection = onprem_connection(onprem.crm2011)
    onprem.sim.define_role(onprem.crm2011, "Accounts", {"prvReadAccount": "Global"})
    onprem.sim.set_roles(onprem.crm2011, onprem.users["crm2011"], "Accounts")
    check(admin_client, connection, "new_nothing")
    result = latest(connection)
    assert result["ok"] is True, result["message"]
    assert "entity sets listed" in result["message"]
    assert read(result, "account")["readable"] is True and read(result, "account")["entity_set"] == "AccountSet"
    contact = read(result, "contact")
    assert contact["readable"] is False and contact["privilege"] == "prvReadContact"
    assert read(result, "new_nothing")["code"] == "table_not_found"
    assert [r for r in onprem.sim.requests if r.path.endswith("/AccountSet") and "top=1" in r.query]
    assert AccessCheck.objects.get().steps[4]["detail"].startswith("not asked")
