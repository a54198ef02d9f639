"""TEST through the operator's outbound proxy: a real tinyproxy on loopback, and a fake one for 403, 502 and silence.

The proxy carries every request (msal's discovery and token calls included) in a CONNECT tunnel to the address
the outbound guard checked; what the proxy cannot do, TEST says in words, naming the proxy but never its password.
"""

import ipaddress
import json
import socket
import time

import pytest
import requests

from connections.dynamics import guard, http, proxy
from connections.dynamics.errors import OutboundBlockedError
from tests import test_azure_ad
from tests.proxy_fixtures import PROXY_PASSWORD, PROXY_USER
from tests.test_connection_test import assert_unavailable, good, run_test

pytestmark = pytest.mark.django_db
delegated = test_azure_ad.delegated  # the fixture of a connection with AuthScheme AzureAD


@pytest.fixture
def no_direct_connections(monkeypatch):
    """Fail the test if anything connects straight to a target: through the proxy, nothing does."""
    opened = []

    def refuse(host, port, *args):
        opened.append((host, port))
        raise AssertionError(f"a direct connection to {host}:{port}")

    monkeypatch.setattr(guard, "open_socket", refuse)
    return opened


def last_result() -> dict:
    """The stored result of the last TEST (its code and details besides what the page shows)."""
    from connections.runs import TestRun

    return TestRun.objects.latest("created_at").result


def assert_nothing_leaks(answer: dict, logs, *secrets: str) -> None:
    """Not on the page, in the stored result (its details), in an audit event or in any log record."""
    from audit.models import AuditEvent

    events = json.dumps(list(AuditEvent.objects.values()), default=str)
    text = json.dumps(answer) + json.dumps(last_result()) + events + "\n".join(r.getMessage() for r in logs)
    for secret in secrets:
        assert secret not in text


def test_it_tests_entra_and_dataverse_through_the_proxy(
    admin_client, microsoft, tinyproxy, settings, no_direct_connections
):
    settings.OUTBOUND_PROXIES = tinyproxy.proxies()
    answer = run_test(admin_client, **good(microsoft))
    assert answer["ok"] is True, answer["message"]
    tunnels = tinyproxy.connects()
    assert tunnels and set(tunnels) == {f"127.0.0.1:{microsoft.sim.port}"}  # the checked address, never a name
    assert no_direct_connections == []
    assert microsoft.sim.count("login.microsoftonline.com", "/token") == 1  # msal's token request, by its real name


def test_it_authenticates_to_the_proxy_with_the_credentials_of_the_setting(
    admin_client, microsoft, tinyproxy_with_auth, settings, all_logs
):
    settings.OUTBOUND_PROXIES = tinyproxy_with_auth.proxies((PROXY_USER, PROXY_PASSWORD))
    answer = run_test(admin_client, **good(microsoft))
    assert answer["ok"] is True, answer["message"]
    assert len(tinyproxy_with_auth.connects()) >= 2
    assert_nothing_leaks(answer, all_logs, PROXY_PASSWORD)


@pytest.mark.parametrize("credentials", [(PROXY_USER, "wrong-password"), None])
def test_it_names_a_proxy_that_asks_for_other_credentials(
    credentials, admin_client, microsoft, tinyproxy_with_auth, settings, all_logs
):
    settings.OUTBOUND_PROXIES = tinyproxy_with_auth.proxies(credentials)
    answer = run_test(admin_client, **good(microsoft))
    display = f"http://127.0.0.1:{tinyproxy_with_auth.port}"
    assert_unavailable(answer, f"The proxy {display} refused the tunnel", "proxy authentication required")
    assert last_result()["code"] == "proxy_auth_required"
    assert "OUTBOUND_PROXY" in answer["hint"]
    assert ("user and password" if credentials else "asks for credentials") in answer["hint"]
    assert microsoft.sim.count() == 0
    assert_nothing_leaks(answer, all_logs, "wrong-password", PROXY_PASSWORD)


def test_hosts_in_no_proxy_go_direct(admin_client, microsoft, tinyproxy, settings):
    settings.OUTBOUND_PROXIES = tinyproxy.proxies(no_proxy=["login.microsoftonline.com", ".dynamics.com"])
    answer = run_test(admin_client, **good(microsoft))
    assert answer["ok"] is True, answer["message"]
    assert tinyproxy.connects() == []


def test_no_proxy_can_exempt_one_host_while_the_others_go_through(admin_client, microsoft, tinyproxy, settings):
    settings.OUTBOUND_PROXIES = tinyproxy.proxies(no_proxy=["contoso.crm.dynamics.com"])
    answer = run_test(admin_client, **good(microsoft))
    assert answer["ok"] is True, answer["message"]
    assert microsoft.sim.count("contoso.crm.dynamics.com") >= 1
    assert len(tinyproxy.connects()) >= 1  # Entra ID's requests still through the proxy


def test_a_target_resolving_to_a_private_address_is_refused_before_any_connect(
    admin_client, microsoft, tinyproxy, settings, resolver
):
    settings.OUTBOUND_PROXIES = tinyproxy.proxies()
    resolver.add("*.crm4.dynamics.com", "10.1.2.3", microsoft.sim.port)
    answer = run_test(admin_client, **good(microsoft, url="https://contoso.crm4.dynamics.com/"))
    assert_unavailable(answer, "outbound guard", "10.1.2.3")
    assert tinyproxy.connects() == []


def test_the_tunnel_checks_a_target_the_test_did_not_check_first(tinyproxy, resolver):
    """Without a preflight (any request of the client layer), the tunnel resolves and checks the target itself."""
    resolver.add("intranet.example.com", "10.9.8.7", 443)
    limits = http.Limits(proxies=tinyproxy.proxies())
    with http.budget(limits), pytest.raises(OutboundBlockedError, match="10.9.8.7"):
        http.client.get("https://intranet.example.com/")
    assert tinyproxy.connects() == []


def test_a_dns_answer_that_changes_after_the_check_cannot_steer_the_tunnel(
    admin_client, microsoft, tinyproxy, settings, resolver
):
    settings.OUTBOUND_PROXIES = tinyproxy.proxies()
    original = resolver.resolve
    answers = iter(["127.0.0.1", "127.0.0.9"])  # the checked answer, then a rebinding attempt

    def rebinding(host, port):
        if host == "contoso.crm.dynamics.com":
            return [(socket.AF_INET, (next(answers), microsoft.sim.port))]
        return original(host, port)

    resolver.resolve = rebinding
    answer = run_test(admin_client, **good(microsoft))
    assert answer["ok"] is True, answer["message"]
    assert set(tinyproxy.connects()) == {f"127.0.0.1:{microsoft.sim.port}"}
    assert next(answers) == "127.0.0.9"  # never asked for: the tunnel went to the address the preflight checked


def test_tls_inside_the_tunnel_verifies_the_real_name_not_the_address(microsoft, tinyproxy, resolver):
    """The simulator's certificate names Microsoft's hosts and 127.0.0.1: a name it lacks fails, though the
    CONNECT named 127.0.0.1."""
    resolver.add("not-in-the-certificate.example.com", "127.0.0.1", microsoft.sim.port)
    limits = http.Limits(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),), proxies=tinyproxy.proxies())
    with http.budget(limits):
        assert http.client.get(f"{microsoft.env.url}api/data/v9.2/").status_code in (200, 401)
        with pytest.raises(requests.exceptions.SSLError, match="not-in-the-certificate.example.com"):
            http.client.get("https://not-in-the-certificate.example.com/")
    assert set(tinyproxy.connects()) == {f"127.0.0.1:{microsoft.sim.port}"}


def test_connections_through_the_proxy_are_kept_alive(admin_client, microsoft, tinyproxy, settings):
    settings.OUTBOUND_PROXIES = tinyproxy.proxies()
    assert run_test(admin_client, **good(microsoft))["ok"] is True
    first = len(tinyproxy.connects())
    assert run_test(admin_client, **good(microsoft))["ok"] is True
    assert len(tinyproxy.connects()) == first  # the second TEST rode the tunnels of the first


def test_it_says_when_the_proxy_is_down(admin_client, microsoft, settings):
    from tests.proxy_fixtures import free_port

    port = free_port()
    settings.OUTBOUND_PROXIES = proxy.Proxies(
        *[proxy.ProxyURL("http", "127.0.0.1", port, PROXY_USER, PROXY_PASSWORD)] * 2
    )
    answer = run_test(admin_client, **good(microsoft))
    assert_unavailable(answer, f"The proxy http://127.0.0.1:{port} refused the connection", "OUTBOUND_PROXY")
    assert last_result()["code"] == "proxy_unreachable"
    assert PROXY_PASSWORD not in json.dumps(answer)


def test_it_says_when_the_proxy_name_does_not_resolve(admin_client, microsoft, settings):
    settings.OUTBOUND_PROXIES = proxy.Proxies(*[proxy.ProxyURL("http", "proxy.invalid", 3128)] * 2)
    answer = run_test(admin_client, **good(microsoft))
    assert_unavailable(answer, "The proxy's name in http://proxy.invalid:3128 cannot be resolved")


def test_a_proxy_that_never_answers_times_out_within_the_budget(admin_client, microsoft, settings, fake_proxy):
    silent = fake_proxy(None)
    settings.OUTBOUND_PROXIES = proxy.Proxies(*[proxy.ProxyURL("http", "127.0.0.1", silent.port)] * 2)
    settings.TEST_CONNECT_TIMEOUT = 0.5
    started = time.monotonic()
    answer = run_test(admin_client, **good(microsoft))
    assert time.monotonic() - started < 5
    assert_unavailable(answer, f"The proxy http://127.0.0.1:{silent.port} did not answer within 0.5 s")
    assert last_result()["code"] == "proxy_timeout"
    assert silent.requests and silent.requests[0].startswith(b"CONNECT 127.0.0.1:")


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (b"403 Forbidden", "proxy_refused_destination", "it does not allow this destination"),
        (b"502 Bad Gateway", "proxy_bad_gateway", "could not reach login.microsoftonline.com (HTTP 502"),
        (b"504 Gateway Timeout", "proxy_bad_gateway", "(HTTP 504 from the proxy)"),
        (b"418 I'm a teapot", "proxy_error", "with HTTP 418"),
    ],
)
def test_it_explains_the_proxys_own_refusals(
    status, code, words, admin_client, microsoft, settings, fake_proxy, all_logs
):
    refusing = fake_proxy(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    chosen = proxy.ProxyURL("http", "127.0.0.1", refusing.port, PROXY_USER, PROXY_PASSWORD)
    settings.OUTBOUND_PROXIES = proxy.Proxies(chosen, chosen)
    answer = run_test(admin_client, **good(microsoft))
    assert_unavailable(answer, f"The proxy http://127.0.0.1:{refusing.port}", words)
    assert last_result()["code"] == code
    assert b"Proxy-Authorization: Basic " in refusing.requests[0]  # the credentials went to the proxy only
    assert_nothing_leaks(answer, all_logs, PROXY_PASSWORD)


def test_the_managed_identity_endpoint_is_never_proxied(tinyproxy):
    from connections.dynamics import managed_identity

    session = managed_identity.clients.http_client()._own_session
    assert session.get_adapter("http://169.254.169.254/")._direct is True
    assert http.session().get_adapter("https://login.microsoftonline.com/")._direct is False


def test_check_access_and_preview_go_through_the_proxy_too(
    admin_client, microsoft, make_connection, tinyproxy, settings, no_direct_connections
):
    settings.OUTBOUND_PROXIES = tinyproxy.proxies()
    saved = make_connection(name="Contoso Sales", **good(microsoft))
    tested = admin_client.post(f"/connections/{saved.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert tested["ok"] is True, tested["message"]
    checked = admin_client.post(f"/connections/{saved.pk}/access/", {"tables": ""}, HTTP_ACCEPT="application/json")
    assert checked.json()["ok"] is True
    previewed = admin_client.post(f"/connections/{saved.pk}/preview/", {"table": "account"})
    assert previewed.status_code == 200 and b"2 rows of account" in previewed.content
    assert microsoft.sim.count("contoso.crm.dynamics.com", "accounts") >= 1
    assert no_direct_connections == [] and tinyproxy.connects()


def test_sign_in_with_microsoft_exchanges_the_code_through_the_proxy(admin_client, delegated, tinyproxy, settings):
    """The admin's browser reaches Microsoft by itself; the app's code exchange and Graph read go through the proxy."""
    settings.OUTBOUND_PROXIES = tinyproxy.proxies()
    page = test_azure_ad.sign_in(admin_client, delegated)
    assert "Signed in to Microsoft as Maria Garcia" in page
    assert tinyproxy.connects()
    answer = admin_client.post(f"/connections/{delegated.saved.pk}/test/", HTTP_ACCEPT="application/json").json()
    assert answer["ok"] is True, answer["message"]


def test_an_https_proxy_carries_the_test_tls_in_tls(admin_client, microsoft, tinyproxy, settings):
    from tests.proxy_fixtures import TlsFront

    front = TlsFront(tinyproxy.port, microsoft.sim.ca)
    try:
        chosen = proxy.ProxyURL("https", "127.0.0.1", front.port)
        settings.OUTBOUND_PROXIES = proxy.Proxies(chosen, chosen)
        answer = run_test(admin_client, **good(microsoft))
    finally:
        front.close()
    assert answer["ok"] is True, answer["message"]
    assert tinyproxy.connects()
