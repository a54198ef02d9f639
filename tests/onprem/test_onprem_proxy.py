"""On-premises TESTs through the operator's outbound proxy (a real tinyproxy on loopback).

A plain-http CRM server is tunnelled like an https one (CONNECT to the checked address, never a forwarded
`GET http://...`): the NTLM handshake's 401 round trips and the requests after it share one tunnel, end to end.
"""

import pytest

from tests.onprem.test_onprem_test import adfs, run_test
from tests.proxy_fixtures import PROXY_PASSWORD, PROXY_USER

pytestmark = pytest.mark.django_db


def test_it_signs_in_with_ntlm_through_the_proxy_on_one_tunnel(admin_client, onprem, tinyproxy_with_auth, settings):
    settings.OUTBOUND_PROXIES = tinyproxy_with_auth.proxies((PROXY_USER, PROXY_PASSWORD))
    answer = run_test(admin_client)
    assert answer["ok"] is True, answer["message"]
    assert tinyproxy_with_auth.connects() == [f"127.0.0.1:{onprem.sim.http_port}"]  # one tunnel, to the address
    assert onprem.sim.connection_count("crm.contoso.local") == 1  # the real Host header, on that one connection


def test_a_wrong_windows_password_through_the_proxy_is_the_servers_refusal(admin_client, onprem, tinyproxy, settings):
    settings.OUTBOUND_PROXIES = tinyproxy.proxies()
    answer = run_test(admin_client, windows_password="not-the-password")
    assert answer["ok"] is False
    assert "refused the Windows credentials" in answer["message"]


def test_adfs_and_the_crm_server_through_the_proxy(admin_client, onprem, tinyproxy, settings):
    settings.OUTBOUND_PROXIES = tinyproxy.proxies()
    answer = run_test(admin_client, **adfs(onprem))
    assert answer["ok"] is True, answer["message"]
    assert set(tinyproxy.connects()) == {f"127.0.0.1:{onprem.sim.https_port}"}


def test_the_proxys_502_for_an_on_premises_server_names_the_server(admin_client, onprem, settings, fake_proxy):
    from connections.dynamics import proxy

    gateway = fake_proxy(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
    chosen = proxy.ProxyURL("http", "127.0.0.1", gateway.port)
    settings.OUTBOUND_PROXIES = proxy.Proxies(chosen, chosen)
    answer = run_test(admin_client)
    assert answer["ok"] is False
    assert f"The proxy http://127.0.0.1:{gateway.port} could not reach crm.contoso.local (HTTP 502" in answer["message"]


def test_ntlm_over_https_through_the_proxy(admin_client, onprem, tinyproxy, settings):
    """Inside the tunnel TLS names the server: requests-ntlm's channel binding reads the server's certificate."""
    settings.OUTBOUND_PROXIES = tinyproxy.proxies()
    answer = run_test(admin_client, url="https://crm.contoso.com/Contoso/")
    assert answer["ok"] is True, answer["message"]
    assert tinyproxy.connects() == [f"127.0.0.1:{onprem.sim.https_port}"]


def test_a_plain_http_server_through_an_https_proxy_is_explained(admin_client, onprem, settings):
    from connections.dynamics import proxy

    chosen = proxy.ProxyURL("https", "proxy.corp", 3129)
    settings.OUTBOUND_PROXIES = proxy.Proxies(chosen, chosen)
    answer = run_test(admin_client)
    assert answer["ok"] is False
    assert "cannot reach a plain-http server through the https:// proxy https://proxy.corp:3129" in answer["message"]
