"""TEST's "Credential expiry" step: Microsoft Graph tells when the connection's own secret or certificate ends.

Against the simulator's Graph ("Get application"): the step finds the secret by its hint and the certificate by
its thumbprint, warns (never fails) when Graph refuses, and asks Graph again only when its last reading is stale.
"""

import datetime as dt
import time

import pytest
import time_machine

from connections import limits
from connections.credentials import params_for
from connections.dynamics import check, clouds, entra, online
from connections.models import Connection
from tests.azure_ad_helpers import add_delegated_connection, sign_in
from tests.helpers import form_data
from tests.simulator import make_certificate
from tests.test_connection_test_paths import pfx_upload
from tests.test_first_test_on_create import create, form_tested

pytestmark = pytest.mark.django_db
READ_ALL = "Application.Read.All"
ENDS = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def saved(make_connection, microsoft):
    return make_connection(
        name="Contoso Sales",
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        client_secret=microsoft.secret.value,
    )


def saved_test(admin_client, connection) -> dict:
    answer = admin_client.post(f"/connections/{connection.pk}/test/", HTTP_ACCEPT="application/json").json()
    connection.refresh_from_db()
    return answer


def steps_of(connection) -> dict:
    return {step["label"]: (step["status"], step["detail"]) for step in connection.last_test_steps}


def entra_requests(sim) -> int:
    return sim.count(host="login.microsoftonline.com")


def graph_requests(sim, host="graph.microsoft.com") -> int:
    return sim.count(host=host, path_contains="/v1.0/applications")


def with_secret_ending(microsoft, ends) -> str:
    return microsoft.sim.add_secret(microsoft.app.client_id, expires_at=ends).value


def test_it_reads_the_secrets_expiry_from_graph_and_keeps_it(admin_client, microsoft, make_connection):
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    secret = with_secret_ending(microsoft, ENDS)
    connection = make_connection(
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        client_secret=secret,
    )

    answer = saved_test(admin_client, connection)

    assert answer["ok"] is True, answer["message"]
    status, detail = steps_of(connection)["Credential expiry"]
    assert status == "ok" and detail == "expires 2027-03-01 (read from Microsoft Graph just now)"
    assert connection.credential_expires_at == ENDS
    assert connection.credential_expiry_of == f"secret:{secret[:3]}"
    assert connection.credential_expiry_read_at is not None
    assert graph_requests(microsoft.sim) == 1


def test_it_warns_without_application_read_all_and_the_connection_is_still_available(admin_client, saved, microsoft):
    answer = saved_test(admin_client, saved)

    assert answer["ok"] is True, answer["message"]
    assert answer["message"].startswith("Connection available")
    status, detail = steps_of(saved)["Credential expiry"]
    assert status == "warning"
    assert detail == (
        "Microsoft Graph refused to list the app's credentials: the app lacks the Application.Read.All application "
        "permission."
    )
    assert saved.credential_expires_at is None
    assert saved.last_test_status == "available"


def test_a_graph_error_is_a_warning_beside_a_good_whoami(admin_client, saved, microsoft):
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    microsoft.sim.set_responses([404], host="graph.microsoft.com")

    answer = saved_test(admin_client, saved)

    assert answer["ok"] is True, answer["message"]
    steps = {label: status for label, (status, _) in steps_of(saved).items()}
    assert steps == {
        "Outbound check": "ok",
        "Token from Entra ID": "ok",
        "Dataverse WhoAmI": "ok",
        "Dataverse version": "ok",
        "Credential expiry": "warning",
    }


def test_a_redirect_from_graph_is_refused_and_a_warning(admin_client, saved, microsoft):
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    microsoft.sim.set_responses([(302, {"Location": "https://evil.example/steal"})], host="graph.microsoft.com")

    answer = saved_test(admin_client, saved)

    assert answer["ok"] is True, answer["message"]
    status, detail = steps_of(saved)["Credential expiry"]
    assert status == "warning" and "redirect to evil.example" in detail
    assert microsoft.sim.count(path_contains="steal") == 0


def test_a_silent_graph_holds_the_test_up_only_a_moment(admin_client, saved, microsoft, settings, monkeypatch):
    monkeypatch.setattr(online, "EXPIRY_GRACE_SECONDS", 0.5)
    settings.TEST_READ_TIMEOUT = 4
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    microsoft.sim.set_silent(host="graph.microsoft.com")

    started = time.monotonic()
    answer = saved_test(admin_client, saved)

    assert time.monotonic() - started < 3
    assert answer["ok"] is True, answer["message"]
    status, detail = steps_of(saved)["Credential expiry"]
    assert status == "warning" and detail.startswith("Microsoft Graph did not answer within 0.5 s")


def test_a_slow_graph_is_a_warning_within_the_tests_budget(admin_client, saved, microsoft, settings):
    settings.TEST_READ_TIMEOUT = 1
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    microsoft.sim.set_silent(host="graph.microsoft.com")

    answer = saved_test(admin_client, saved)

    assert answer["ok"] is True, answer["message"]
    assert steps_of(saved)["Credential expiry"][0] == "warning"


def test_a_fresh_reading_sends_nothing_to_graph_or_entra(admin_client, saved, microsoft):
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    saved_test(admin_client, saved)
    assert entra_requests(microsoft.sim) == 3  # discovery, the Dataverse token, the Graph token
    microsoft.sim.clear_requests()
    entra.apps.clear()  # a cold TEST (another worker, or after a restart)

    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)):
        saved_test(admin_client, saved)

    assert graph_requests(microsoft.sim) == 0
    assert entra_requests(microsoft.sim) == 2  # discovery and the Dataverse token only
    status, detail = steps_of(saved)["Credential expiry"]
    assert status == "ok" and "(read from Microsoft Graph 3 hours ago)" in detail


def test_graph_s_refusal_is_remembered_an_hour_so_a_cold_test_costs_entra_two_requests(admin_client, saved, microsoft):
    saved_test(admin_client, saved)  # Graph refuses: the app has no Application.Read.All
    microsoft.sim.clear_requests()
    entra.apps.clear()  # a cold TEST (another worker, or after a restart)

    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=50)):
        answer = saved_test(admin_client, saved)

    assert answer["ok"] is True
    assert graph_requests(microsoft.sim) == 0
    assert entra_requests(microsoft.sim) == 2  # discovery and the Dataverse token only
    status, detail = steps_of(saved)["Credential expiry"]
    assert status == "warning"
    assert detail.startswith("Microsoft Graph refused to list the app's credentials: the app lacks the")
    assert "(Graph's answer less than an hour ago; it is asked again after " in detail


def test_once_the_permission_is_granted_graph_is_asked_again_after_the_hour(admin_client, saved, microsoft):
    saved_test(admin_client, saved)
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    microsoft.sim.clear_requests()

    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=61)):
        saved_test(admin_client, saved)

    assert graph_requests(microsoft.sim) == 1
    assert steps_of(saved)["Credential expiry"][0] == "ok"
    assert saved.credential_expires_at is not None


def test_a_stale_reading_is_read_again(admin_client, saved, microsoft, settings):
    settings.CREDENTIAL_EXPIRY_REFRESH_HOURS = 24
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    saved_test(admin_client, saved)
    first_read = saved.credential_expiry_read_at
    microsoft.sim.clear_requests()

    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)):
        saved_test(admin_client, saved)

    assert graph_requests(microsoft.sim) == 1
    assert saved.credential_expiry_read_at > first_read


def test_a_new_secret_is_read_at_its_next_test(admin_client, saved, microsoft):
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    saved_test(admin_client, saved)
    newer = with_secret_ending(microsoft, ENDS)
    saved.set_client_secret(newer)
    saved.save()
    assert saved.credential_expires_at is None  # the old secret's reading is forgotten
    microsoft.sim.clear_requests()

    saved_test(admin_client, saved)

    assert graph_requests(microsoft.sim) == 1
    assert saved.credential_expires_at == ENDS and saved.credential_expiry_of == f"secret:{newer[:3]}"


def test_a_reading_of_a_secret_replaced_during_the_test_is_not_kept(saved, microsoft):
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    result = check.run(params_for(saved), limits.test_limits())
    assert result.credential_expiry is not None
    changed = Connection.objects.get(pk=saved.pk)
    changed.set_client_secret("a-new-secret")
    changed.save()

    saved.record_test(result)

    saved.refresh_from_db()
    assert saved.credential_expires_at is None


def test_it_finds_the_certificate_by_its_thumbprint(admin_client, microsoft):
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    bundle = make_certificate("gathr-connector", valid_days=20)
    microsoft.sim.add_certificate(microsoft.app.client_id, bundle.cert_pem)
    data = form_data(
        action="create",
        client_id=microsoft.app.client_id,
        client_secret="",
        azure_tenant=microsoft.tenant.tenant_id,
        credential_type="certificate",
        certificate_password="pfx-pass",
    )
    data["certificate"] = pfx_upload(bundle, "pfx-pass")
    assert admin_client.post("/connections/new/", data).status_code == 302
    connection = Connection.objects.get()

    answer = saved_test(admin_client, connection)

    assert answer["ok"] is True, answer["message"]
    status, detail = steps_of(connection)["Credential expiry"]
    assert status == "warning" and detail.endswith(("in 19 days.", "in 20 days.")), detail
    assert connection.credential_expiry_of == f"certificate:{bundle.thumbprint_sha1_hex.upper()}"


@pytest.mark.parametrize(
    ("environment", "graph_host", "authority", "domain"),
    [
        ("GLOBAL", "graph.microsoft.com", "login.microsoftonline.com", "fabrikam.onmicrosoft.com"),
        ("USGOVT", "graph.microsoft.us", "login.microsoftonline.us", "contoso.onmicrosoft.us"),
        ("USGOVTDOD", "dod-graph.microsoft.us", "login.microsoftonline.us", "contoso.onmicrosoft.us"),
        ("CHINA", "microsoftgraph.chinacloudapi.cn", "login.chinacloudapi.cn", "contoso.partner.onmschina.cn"),
    ],
)
def test_it_asks_the_graph_host_of_the_connections_azure_environment(
    admin_client, microsoft, make_connection, environment, graph_host, authority, domain
):
    cloud = clouds.CLOUDS[environment]
    assert cloud.graph_host == graph_host
    sim = microsoft.sim
    tenant = sim.add_tenant(domains=(domain,), authority_host=authority)
    app = sim.add_app(tenant.tenant_id)
    secret = sim.add_secret(app.client_id, expires_at=ENDS)
    sim.grant_graph(app.client_id, READ_ALL)
    env = sim.add_environment(cloud.example_url.replace("contoso", "expiry"), tenant_id=tenant.tenant_id)
    sim.add_application_user(env.url, app.client_id)
    connection = make_connection(
        client_id=app.client_id,
        azure_tenant=tenant.tenant_id,
        url=env.url,
        azure_environment=environment,
        client_secret=secret.value,
    )

    answer = saved_test(admin_client, connection)

    assert answer["ok"] is True, answer["message"]
    assert graph_requests(sim, graph_host) == 1
    assert connection.credential_expires_at == ENDS


def test_an_azure_ad_connection_reads_its_app_s_own_secret_with_an_app_only_token(
    admin_client, microsoft, settings, make_connection
):
    delegated = add_delegated_connection(microsoft, settings, make_connection)
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    sign_in(admin_client, delegated)

    answer = saved_test(admin_client, delegated.saved)

    assert answer["ok"] is True, answer["message"]
    status, detail = steps_of(delegated.saved)["Credential expiry"]
    assert status == "ok" and detail.endswith("(read from Microsoft Graph just now)")
    assert delegated.saved.credential_expiry_of == f"secret:{microsoft.secret.value[:3]}"


def test_the_new_form_s_test_asks_graph_nothing_and_the_saved_connection_s_first_test_reads_it(admin_client, microsoft):
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    secret = with_secret_ending(microsoft, ENDS)

    answer = form_tested(admin_client, microsoft, client_secret=secret)

    assert answer["ok"] is True
    assert entra_requests(microsoft.sim) == 2 and graph_requests(microsoft.sim) == 0  # a cold TEST: as before
    assert "read from Microsoft Graph once the credential is saved" in answer["html"]
    connection = create(admin_client, microsoft, client_secret=secret)
    assert connection.last_test_status == "available" and connection.credential_expires_at is None
    saved_test(admin_client, connection)
    assert graph_requests(microsoft.sim) == 1
    assert connection.credential_expires_at == ENDS
    assert connection.credential_expiry_of == f"secret:{secret[:3]}"


def test_an_edit_form_test_of_a_typed_secret_keeps_nothing(admin_client, saved, microsoft):
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    typed = with_secret_ending(microsoft, ENDS)
    data = form_data(
        action="test",
        name=saved.name,
        client_id=saved.client_id,
        client_secret=typed,
        azure_tenant=saved.azure_tenant,
        url=saved.url,
    )

    answer = admin_client.post(f"/connections/{saved.pk}/edit/", data, HTTP_ACCEPT="application/json").json()

    assert answer["ok"] is True, answer["message"]
    assert "read from Microsoft Graph once the credential is saved" in answer["html"]
    assert graph_requests(microsoft.sim) == 0
    saved.refresh_from_db()
    assert saved.credential_expires_at is None and saved.credential_expiry_read_at is None
