"""TEST of CRM2011+ (on-premises) connections through the real form: NTLM and ADFS, every outcome an admin meets.

The `onprem` fixture stands in for a company network on loopback: Dynamics CRM 9.1, CRM 2016 (Web API
v8.1) and CRM 2011 (OData v2 only) servers with a real NTLM acceptor (pyspnego), a web server that is not
Dynamics, and AD FS. requests-ntlm and msal run unmodified.
"""

import ipaddress

import pytest

from connections.dynamics import http
from connections.models import Connection
from tests.onprem.helpers import ONPREM_PASSWORD, onprem_form_data

pytestmark = pytest.mark.django_db

WEB_API_PROBES = ["9.2", "9.1", "9.0", "8.2", "8.1", "8.0"]


def run_test(client, **overrides) -> dict:
    """Click TEST on the New connection form (the fetch path) and return the JSON answer."""
    data = onprem_form_data(action="test", **overrides)
    response = client.post("/connections/new/", data, HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def adfs(onprem, **overrides) -> dict:
    values = {
        "auth_scheme": "ADFS",
        "url": "https://crm.contoso.com/Contoso/",
        "adfs_url": "https://adfs.contoso.com/adfs",
        "client_id": onprem.adfs_app.client_id,
        "client_secret": onprem.adfs_app.secret,
    }
    return {**values, **overrides}


def assert_unavailable(answer: dict, *expected: str) -> None:
    text = answer["message"] + " " + answer["hint"]
    assert answer["ok"] is False
    assert answer["message"].startswith("Connection unavailable"), answer["message"]
    for part in expected:
        assert part in text, f"{part!r} not in {text!r}"
    assert "Traceback" not in answer["html"]


def paths(onprem, host: str) -> list[tuple[str, int]]:
    return [(r.path, r.status) for r in onprem.sim.requests if r.host == host]


# --- NTLM ---------------------------------------------------------------------------------------------


def test_it_signs_in_with_ntlm_and_finds_the_newest_web_api_of_a_9x_server(admin_client, onprem):
    answer = run_test(admin_client)
    assert answer["ok"] is True, answer["message"]
    assert answer["message"].startswith("Connection available")
    for part in ("Web API v9.1", "9.1.0.21813", onprem.crm91.organization_id, onprem.users["crm91"].user_id):
        assert part in answer["message"]
    assert "CONTOSO\\maria" in answer["message"]
    for label in ("Outbound check", "Sign-in (NTLM)", "Dynamics CRM WhoAmI", "Dynamics CRM version"):
        assert label in answer["html"]
    assert ONPREM_PASSWORD not in str(answer)
    # The handshake (two 401s) rode on the first request; v9.2 is absent, v9.1 answered.
    assert paths(onprem, "crm.contoso.local") == [
        ("/Contoso/api/data/v9.2/WhoAmI", 401),
        ("/Contoso/api/data/v9.2/WhoAmI", 401),
        ("/Contoso/api/data/v9.2/WhoAmI", 404),
        ("/Contoso/api/data/v9.1/WhoAmI", 200),
        ("/Contoso/api/data/v9.1/RetrieveVersion()", 200),
    ]


def test_the_whole_ntlm_test_uses_one_tcp_connection(admin_client, onprem):
    answer = run_test(admin_client)
    assert answer["ok"] is True, answer["message"]
    assert onprem.sim.connection_count("crm.contoso.local") == 1


def test_it_accepts_the_user_as_a_upn(admin_client, onprem):
    answer = run_test(admin_client, windows_user="maria@contoso.local")
    assert answer["ok"] is True, answer["message"]


def test_it_signs_in_with_ntlm_over_https(admin_client, onprem):
    answer = run_test(admin_client, url="https://crm.contoso.com/Contoso/")
    assert answer["ok"] is True, answer["message"]
    assert onprem.users["secure"].user_id in answer["message"]


def test_it_finds_the_web_api_v8_of_a_crm_2016_server(admin_client, onprem):
    answer = run_test(admin_client, url="http://crm2016.contoso.local/Contoso/")
    assert answer["ok"] is True, answer["message"]
    assert "Web API v8.1" in answer["message"]
    assert "8.1.1.1005" in answer["message"]


def test_it_falls_back_to_the_odata_v2_service_of_a_crm_2011_server(admin_client, onprem):
    answer = run_test(admin_client, url="http://crm2011.contoso.local/Contoso/")
    assert answer["ok"] is True, answer["message"]
    assert "OData v2 organization data service" in answer["message"]
    assert "CRM 2011 to 2015" in answer["message"]
    assert "RetrieveVersion needs the Web API" in answer["html"]
    tried = [path for path, status in paths(onprem, "crm2011.contoso.local") if status == 404]
    assert tried == [f"/Contoso/api/data/v{version}/WhoAmI" for version in WEB_API_PROBES]
    assert paths(onprem, "crm2011.contoso.local")[-1] == ("/Contoso/XRMServices/2011/OrganizationData.svc/", 200)


def test_it_explains_a_wrong_password(admin_client, onprem):
    answer = run_test(admin_client, windows_password="Not the password 1")
    assert_unavailable(
        answer, "Sign-in (NTLM) failed", "HTTP 401 after the NTLM handshake", "password is wrong", "locked out"
    )


def test_it_explains_an_unknown_user(admin_client, onprem):
    answer = run_test(admin_client, windows_user="CONTOSO\\ghost")
    assert_unavailable(answer, "Sign-in (NTLM) failed", "CONTOSO\\ghost", "user name or the password is wrong")


def test_it_explains_a_locked_out_account(admin_client, onprem):
    onprem.maria.locked = True
    answer = run_test(admin_client)
    assert_unavailable(answer, "Sign-in (NTLM) failed", "locked out", "Active Directory administrator")


def test_it_explains_an_account_that_is_no_crm_user(admin_client, onprem):
    onprem.sim.add_windows_user("CONTOSO", "pedro", "Pedro's password 7")
    answer = run_test(admin_client, windows_user="CONTOSO\\pedro", windows_password="Pedro's password 7")
    assert_unavailable(
        answer, "Dynamics CRM WhoAmI failed", "HTTP 403", "not a Dynamics CRM user", "Settings > Security > Users"
    )
    assert "0x80040217" in answer["html"]
    assert "Windows accepted CONTOSO\\pedro" in answer["html"]


def test_it_explains_a_disabled_crm_user(admin_client, onprem):
    onprem.users["crm91"].enabled = False
    answer = run_test(admin_client)
    assert_unavailable(answer, "HTTP 403", "disabled", "security role")
    assert "0x80040225" in answer["html"]


def test_a_test_never_reuses_another_accounts_ntlm_connection(admin_client, onprem):
    onprem.sim.add_windows_user("CONTOSO", "pedro", "Pedro's password 7")
    assert run_test(admin_client)["ok"] is True
    answer = run_test(admin_client, windows_user="CONTOSO\\pedro", windows_password="Pedro's password 7")
    assert_unavailable(answer, "HTTP 403")  # Pedro signed in himself: he did not get Maria's connection
    assert onprem.sim.connection_count("crm.contoso.local") == 2


def test_it_says_when_the_server_is_not_dynamics(admin_client, onprem):
    answer = run_test(admin_client, url="http://www.contoso.local/Contoso/")
    assert_unavailable(answer, "Dynamics CRM WhoAmI failed", "not like Dynamics CRM", "Web API", "OData v2", "404")
    assert "without asking for Windows credentials" in answer["html"]


def test_it_explains_an_unknown_organization(admin_client, onprem):
    answer = run_test(admin_client, url="http://crm.contoso.local/Fabrikam/")
    assert_unavailable(answer, "not like Dynamics CRM", "organization name")


def test_a_saved_ntlm_connection_tests_with_its_stored_password(admin_client, onprem):
    admin_client.post("/connections/new/", onprem_form_data(name="Contoso on-premises"))
    connection = Connection.objects.get()
    answer = admin_client.post(f"/connections/{connection.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert answer["ok"] is True, answer["message"]
    connection.refresh_from_db()
    assert connection.last_test_status == "available"
    assert [step["label"] for step in connection.last_test_steps][1] == "Sign-in (NTLM)"


# --- The outbound guard ---------------------------------------------------------------------------------


def test_the_guard_refuses_a_private_address_and_names_the_setting_to_allow_it(
    admin_client, onprem, resolver, settings
):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    resolver.add("crm.contoso.local", "10.20.3.4", onprem.sim.http_port)
    answer = run_test(admin_client)
    assert_unavailable(
        answer, "Outbound check failed", "10.20.3.4", "private network", "OUTBOUND_ALLOWED_NETWORKS", "10.20.3.4/32"
    )
    assert onprem.sim.requests == []


def test_an_operator_allows_the_servers_network(admin_client, onprem, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert_unavailable(run_test(admin_client), "OUTBOUND_ALLOWED_NETWORKS", "127.0.0.1/32")
    settings.OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    assert run_test(admin_client)["ok"] is True


def test_the_guard_checks_the_adfs_server_too(admin_client, onprem, resolver):
    resolver.add("adfs.contoso.com", "192.168.10.5", onprem.sim.https_port)
    answer = run_test(admin_client, **adfs(onprem))
    assert_unavailable(answer, "Outbound check failed", "adfs.contoso.com", "OUTBOUND_ALLOWED_NETWORKS")
    assert onprem.sim.requests == []


def test_it_does_not_resolve_an_unknown_host(admin_client, onprem):
    answer = run_test(admin_client, url="http://crm.fabrikam.local/Contoso/")
    assert_unavailable(answer, "cannot be resolved", "internal DNS")


# --- ADFS -------------------------------------------------------------------------------------------------


def test_it_gets_a_token_from_adfs_and_signs_in(admin_client, onprem):
    answer = run_test(admin_client, **adfs(onprem))
    assert answer["ok"] is True, answer["message"]
    assert onprem.adfs_user.user_id in answer["message"]
    assert "Web API v9.1" in answer["message"]
    assert "Token from AD FS" in answer["html"]
    assert "issued by AD FS for https://crm.contoso.com/" in answer["html"]
    assert onprem.adfs_app.secret not in str(answer)
    token_requests = [r for r in onprem.sim.requests if r.path.startswith("/adfs/oauth2/token")]
    assert len(token_requests) == 1


def test_it_explains_a_wrong_adfs_client_secret(admin_client, onprem):
    answer = run_test(admin_client, **adfs(onprem, client_secret="not-the-secret"))
    assert_unavailable(answer, "Token from AD FS failed", "MSIS9622", "rejected the Client Secret", "Reset secret")
    assert "Client authentication failed" in answer["html"]


def test_it_explains_an_unknown_adfs_client(admin_client, onprem):
    answer = run_test(admin_client, **adfs(onprem, client_id="11111111-2222-3333-4444-555555555555"))
    assert_unavailable(answer, "MSIS9607", "does not know this Client ID", "Application Groups")


def test_it_explains_a_resource_adfs_does_not_know(admin_client, onprem):
    answer = run_test(admin_client, **adfs(onprem, adfs_resource="https://auth.crm.contoso.com/"))
    assert_unavailable(
        answer, "MSIS9602", "does not know the relying party https://auth.crm.contoso.com/", "Relying Party Trusts"
    )


def test_it_explains_a_client_without_permission_for_the_resource(admin_client, onprem):
    other = onprem.sim.add_adfs_client("https://other.contoso.com/")
    onprem.sim.add_relying_party("https://crm.contoso.com/")
    answer = run_test(admin_client, **adfs(onprem, client_id=other.client_id, client_secret=other.secret))
    assert_unavailable(answer, "MSIS9605", "Grant-AdfsApplicationPermission")


def test_it_explains_a_token_the_crm_server_refuses(admin_client, onprem):
    onprem.sim.add_relying_party("https://other.contoso.com/")
    onprem.adfs_app.resources.add("https://other.contoso.com/")
    answer = run_test(admin_client, **adfs(onprem, adfs_resource="https://other.contoso.com/"))
    assert_unavailable(answer, "Dynamics CRM WhoAmI failed", "did not accept the token", "https://crm.contoso.com/")


def test_it_explains_an_address_where_no_adfs_answers(admin_client, onprem):
    answer = run_test(admin_client, **adfs(onprem, adfs_url="https://crm.contoso.com/adfs"))
    assert_unavailable(answer, "Token from AD FS failed", "No AD FS answered", "HTTP 401", "AD FS Server")


def test_a_repeated_adfs_test_reuses_msals_cached_token(admin_client, onprem):
    assert run_test(admin_client, **adfs(onprem))["ok"] is True
    answer = run_test(admin_client, **adfs(onprem))
    assert answer["ok"] is True, answer["message"]
    assert "cache for https://crm.contoso.com/" in answer["html"]  # from msal's cache
    assert sum(r.path.startswith("/adfs/oauth2/token") for r in onprem.sim.requests) == 1


def test_ntlm_connections_never_enter_the_shared_pool(admin_client, onprem):
    assert run_test(admin_client)["ok"] is True
    pools = http.session().get_adapter("http://crm.contoso.local/").poolmanager.pools
    assert len(pools) == 0


def test_it_gives_up_on_a_server_that_never_answers_within_the_connect_timeout(
    admin_client, onprem, resolver, settings
):
    from tests.test_connection_test import blackhole

    settings.TEST_CONNECT_TIMEOUT = 0.5
    with blackhole() as port:
        resolver.add("crm.contoso.local", "127.0.0.1", port)
        answer = run_test(admin_client)
    assert_unavailable(answer, "Sign-in (NTLM) failed", "No answer from crm.contoso.local", "within 0.5 s")


def test_a_crm2011_connection_saved_with_an_entra_scheme_is_told_to_choose_ntlm_or_adfs(
    admin_client, onprem, make_connection
):
    connection = make_connection(crm_version="CRM2011+", url="http://crm.contoso.local/Contoso/")
    answer = admin_client.post(f"/connections/{connection.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert_unavailable(answer, "Outbound check failed", "sign in with NTLM or ADFS", "choose the Auth Scheme")


def test_an_ntlm_connection_without_a_stored_password_asks_for_it(admin_client, onprem, make_connection):
    connection = make_connection(
        crm_version="CRM2011+",
        url="http://crm.contoso.local/Contoso/",
        auth_scheme="NTLM",
        windows_user="CONTOSO\\maria",
        client_secret="",
    )
    answer = admin_client.post(f"/connections/{connection.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert_unavailable(answer, "No credential is stored", "enter the Password")
    assert "Sign-in (NTLM)" in answer["html"]
