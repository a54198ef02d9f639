"""TEST through the real form: every outcome an admin can meet, with the message and the advice they see.

The simulator stands in for login.microsoftonline.com and contoso.crm.dynamics.com on loopback;
msal and requests run unmodified over real TLS.
"""

import datetime as dt
import socket
import uuid

import pytest

from tests.helpers import TEST_SECRET, form_data

pytestmark = pytest.mark.django_db


def run_test(client, **overrides) -> dict:
    """Click TEST on the New connection form (the fetch path) and return the JSON answer."""
    response = client.post("/connections/new/", form_data(action="test", **overrides), HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def good(microsoft, **overrides) -> dict:
    values = {
        "client_id": microsoft.app.client_id,
        "client_secret": microsoft.secret.value,
        "azure_tenant": microsoft.tenant.tenant_id,
        "url": microsoft.env.url,
    }
    return {**values, **overrides}


def assert_unavailable(answer: dict, *expected: str) -> None:
    text = answer["message"] + " " + answer["hint"]
    assert answer["ok"] is False
    assert answer["message"].startswith("Connection unavailable")
    for part in expected:
        assert part in text, f"{part!r} not in {text!r}"
    assert "Traceback" not in answer["html"]


def test_it_reports_connection_available_with_the_organization_user_and_version(admin_client, microsoft):
    answer = run_test(admin_client, **good(microsoft))
    assert answer["ok"] is True
    assert answer["message"].startswith("Connection available")
    assert microsoft.env.organization_id in answer["message"]
    assert microsoft.app_user.user_id in answer["message"]
    assert "9.2." in answer["message"]
    assert "Time taken:" in answer["message"]
    for label in ("Outbound check", "Token from Entra ID", "Dataverse WhoAmI", "Dataverse version"):
        assert label in answer["html"]
    assert microsoft.secret.value not in answer["html"]


def test_it_accepts_the_tenant_as_a_domain_name(admin_client, microsoft):
    answer = run_test(admin_client, **good(microsoft, azure_tenant="contoso.onmicrosoft.com"))
    assert answer["ok"] is True, answer["message"]


def test_it_rejects_a_secret_id_pasted_as_the_secret(admin_client, microsoft):
    answer = run_test(admin_client, **good(microsoft, client_secret=microsoft.secret.secret_id))
    assert_unavailable(answer, "Token from Entra ID failed", "AADSTS7000215", "Value, not its Secret ID")


def test_it_explains_an_expired_secret(admin_client, microsoft):
    expired = microsoft.sim.add_secret(
        microsoft.app.client_id, expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    )
    answer = run_test(admin_client, **good(microsoft, client_secret=expired.value))
    assert_unavailable(answer, "AADSTS7000222", "expired", "Create a new client secret")


def test_it_explains_an_unknown_tenant(admin_client, microsoft):
    answer = run_test(admin_client, **good(microsoft, azure_tenant=str(uuid.uuid4())))
    assert_unavailable(answer, "Token from Entra ID failed", "AADSTS90002", "Check AzureTenant")


def test_it_explains_a_tenant_looked_up_in_the_wrong_cloud(admin_client, microsoft):
    microsoft.sim.add_environment("https://contoso.crm.microsoftdynamics.us/", tenant_id=microsoft.tenant.tenant_id)
    answer = run_test(
        admin_client,
        **good(microsoft, url="https://contoso.crm.microsoftdynamics.us/", azure_environment="USGOVT"),
    )
    assert_unavailable(answer, "AADSTS90002", "USGOVT", "Azure Environment")


def test_it_explains_an_application_missing_from_the_tenant(admin_client, microsoft):
    answer = run_test(admin_client, **good(microsoft, client_id=str(uuid.uuid4())))
    assert_unavailable(answer, "AADSTS700016", "Check the Client ID", "AzureTenant")


def test_it_explains_an_unknown_environment_url(admin_client, microsoft):
    answer = run_test(admin_client, **good(microsoft, url="https://fabrikam.crm.dynamics.com/"))
    assert_unavailable(answer, "AADSTS500011", "Check the URL", "Azure Environment")


def test_it_explains_a_missing_application_user(admin_client, microsoft):
    other = microsoft.sim.add_app(microsoft.tenant.tenant_id)
    secret = microsoft.sim.add_secret(other.client_id)
    answer = run_test(admin_client, **good(microsoft, client_id=other.client_id, client_secret=secret.value))
    assert_unavailable(
        answer,
        "Dataverse WhoAmI failed",
        "no application user",
        "Power Platform admin center",
        "Environments > your environment > Settings > Users + permissions > Application users",
        "security role",
    )
    assert "0x80072560" in answer["html"]


def test_it_explains_a_token_dataverse_refuses(admin_client, microsoft):
    other_tenant = microsoft.sim.add_tenant(domains=("fabrikam.onmicrosoft.com",))
    microsoft.sim.add_environment("https://fabrikam.crm.dynamics.com/", tenant_id=other_tenant.tenant_id)
    answer = run_test(admin_client, **good(microsoft, url="https://fabrikam.crm.dynamics.com/"))
    if answer["message"].find("AADSTS500011") != -1:
        pytest.fail("the simulator refused the resource; this test needs a token Dataverse refuses")
    assert_unavailable(answer, "Dataverse WhoAmI failed", "HTTP 401", "AzureTenant")


def test_it_does_not_resolve_an_unknown_host(admin_client, microsoft, resolver):
    del resolver.entries["*.crm4.dynamics.com"]
    answer = run_test(admin_client, **good(microsoft, url="https://ghost.crm4.dynamics.com/"))
    assert_unavailable(answer, "Outbound check failed", "cannot be resolved", "ghost.crm4.dynamics.com")


def test_it_reports_a_refused_connection_as_down_or_unreachable(admin_client, microsoft, resolver):
    microsoft.sim.add_environment("https://contoso.crm4.dynamics.com/", tenant_id=microsoft.tenant.tenant_id)
    resolver.add("*.crm4.dynamics.com", "127.0.0.1", closed_port())
    answer = run_test(admin_client, **good(microsoft, url="https://contoso.crm4.dynamics.com/"))
    assert_unavailable(answer, "the server is down or unreachable", "refused")


def test_it_gives_up_on_a_silent_server_within_the_read_timeout(admin_client, microsoft, settings):
    settings.TEST_READ_TIMEOUT = 0.5
    microsoft.sim.set_silent(host="contoso.crm.dynamics.com")
    answer = run_test(admin_client, **good(microsoft))
    assert_unavailable(answer, "Dataverse WhoAmI failed", "did not answer within 0.5 s")


def test_it_gives_up_on_a_blackholed_host_within_the_connect_timeout(admin_client, microsoft, resolver, settings):
    settings.TEST_CONNECT_TIMEOUT = 0.5
    microsoft.sim.add_environment("https://contoso.crm4.dynamics.com/", tenant_id=microsoft.tenant.tenant_id)
    with blackhole() as port:
        resolver.add("*.crm4.dynamics.com", "127.0.0.1", port)
        answer = run_test(admin_client, **good(microsoft, url="https://contoso.crm4.dynamics.com/"))
    assert_unavailable(answer, "No answer from", "within 0.5 s", "down or unreachable")


def test_it_explains_an_untrusted_tls_certificate(admin_client, microsoft, monkeypatch):
    from tests.simulator import make_certificate

    stranger = make_certificate("Some Other CA")
    bundle = microsoft.sim.ca_cert_path + ".other"
    with open(bundle, "w") as handle:
        handle.write(stranger.cert_pem)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    answer = run_test(admin_client, **good(microsoft))
    assert_unavailable(answer, "TLS", "certificate")


def test_the_guard_refuses_a_private_address_before_sending_a_byte(admin_client, microsoft, resolver):
    resolver.add("*.crm4.dynamics.com", "10.1.2.3", microsoft.sim.port)
    microsoft.sim.clear_requests()
    answer = run_test(admin_client, **good(microsoft, url="https://contoso.crm4.dynamics.com/"))
    assert_unavailable(answer, "Outbound check failed", "outbound guard", "10.1.2.3", "OUTBOUND_ALLOWED_NETWORKS")
    assert microsoft.sim.count() == 0


def test_it_retries_once_after_a_503_and_succeeds(admin_client, microsoft):
    microsoft.sim.set_responses([(503, {"Retry-After": "0"}), 200], host="contoso.crm.dynamics.com", path="WhoAmI")
    answer = run_test(admin_client, **good(microsoft))
    assert answer["ok"] is True, answer["message"]
    assert microsoft.sim.count(path_contains="WhoAmI") == 2


def test_it_reports_throttling_that_outlasts_one_retry(admin_client, microsoft):
    microsoft.sim.set_responses(
        [(429, {"Retry-After": "0"}), (429, {"Retry-After": "0"})], host="contoso.crm.dynamics.com", path="WhoAmI"
    )
    answer = run_test(admin_client, **good(microsoft))
    assert_unavailable(answer, "Dataverse WhoAmI failed", "HTTP 429", "even after one retry", "busy")
    assert microsoft.sim.count(path_contains="WhoAmI") == 2


def test_it_does_not_wait_for_a_retry_after_beyond_the_time_budget(admin_client, microsoft, settings):
    settings.TEST_TOTAL_TIMEOUT = 3
    microsoft.sim.set_responses([(503, {"Retry-After": "120"})], host="contoso.crm.dynamics.com", path="WhoAmI")
    answer = run_test(admin_client, **good(microsoft))
    assert_unavailable(answer, "HTTP 503")
    assert microsoft.sim.count(path_contains="WhoAmI") == 1


def test_it_reports_any_other_entra_error_with_its_status_and_trace_ids(admin_client, microsoft):
    microsoft.sim.set_responses([(500, {}), (500, {})], path="/oauth2/v2.0/token")
    answer = run_test(admin_client, **good(microsoft))
    assert_unavailable(answer, "Token from Entra ID failed", "HTTP 500")
    assert "trace_id" in answer["html"] and "correlation_id" in answer["html"]


def test_it_never_follows_a_redirect(admin_client, microsoft):
    microsoft.sim.set_redirect("https://evil.example.net/steal", host="contoso.crm.dynamics.com")
    answer = run_test(admin_client, **good(microsoft))
    assert_unavailable(answer, "redirect", "never followed")
    assert microsoft.sim.count(path_contains="steal") == 0


def test_a_failed_test_never_shows_the_secret_or_a_token(admin_client, microsoft, all_logs):
    answer = run_test(admin_client, **good(microsoft, client_id=str(uuid.uuid4())))
    assert answer["ok"] is False
    everything = str(answer) + " ".join(r.getMessage() for r in all_logs)
    assert microsoft.secret.value not in everything
    assert TEST_SECRET not in everything
    assert "eyJ" not in everything  # no JWT


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class blackhole:
    """A port whose listen queue is full: new connections get no answer at all (SYNs are dropped)."""

    def __enter__(self) -> int:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        port = self.listener.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            self.fillers.append(filler)
        return port

    def __exit__(self, *exc) -> None:
        for filler in self.fillers:
            filler.close()
        self.listener.close()
