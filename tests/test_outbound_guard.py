"""The outbound guard: TEST reaches only public addresses, or the networks an operator allows."""

import ipaddress
import socket

import pytest

from connections.dynamics import guard
from connections.dynamics.errors import OutboundBlockedError
from tests.test_connection_test import good, run_test

REFUSED = [
    "127.0.0.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "127.1",
    "::1",
    "[::1]",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "169.254.169.254",
    "fe80::1",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "100.64.0.1",
    "0.0.0.0",
    "::",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",
    "255.255.255.255",
    "fc00::1",
    "2002:7f00:0001::1",  # 6to4 wrapping 127.0.0.1
    "192.0.0.8",
    "198.18.0.1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_it_refuses_non_public_addresses_in_any_spelling(address, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(OutboundBlockedError):
        guard.resolve(address, 443)


@pytest.mark.parametrize("address", ["20.190.128.1", "52.96.0.1", "2603:1030::1"])
def test_it_lets_public_addresses_through(address, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert guard.resolve(address, 443)[0].ip == ipaddress.ip_address(address)


def test_an_operator_can_allow_a_private_network():
    with guard.allowing((ipaddress.ip_network("10.20.0.0/16"),)):
        assert guard.resolve("10.20.3.4", 443)
        with pytest.raises(OutboundBlockedError):
            guard.resolve("10.21.3.4", 443)
    with pytest.raises(OutboundBlockedError):  # outside the block, no private network is allowed
        guard.resolve("10.20.3.4", 443)


def test_a_name_with_one_private_answer_among_public_ones_is_refused(resolver, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    resolver.add("mixed.crm.dynamics.com", "20.190.128.1")
    original = resolver.resolve

    def two_answers(host, port):
        return [*original(host, port), (socket.AF_INET, ("10.0.0.7", port))]

    resolver.resolve = two_answers
    with pytest.raises(OutboundBlockedError, match="10.0.0.7"):
        guard.resolve("mixed.crm.dynamics.com", 443)


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["169.254.169.254", "10.1.2.3", "192.168.0.10", "100.64.1.1", "::ffff:10.0.0.1"])
def test_test_refuses_a_dataverse_name_resolving_to_a_private_address(address, admin_client, microsoft, resolver):
    resolver.add("*.crm4.dynamics.com", address, microsoft.sim.port)
    microsoft.sim.clear_requests()
    answer = run_test(admin_client, **good(microsoft, url="https://contoso.crm4.dynamics.com/"))
    assert answer["message"].startswith("Connection unavailable: Outbound check failed.")
    assert "outbound guard" in answer["message"] and "OUTBOUND_ALLOWED_NETWORKS" in answer["hint"]
    assert microsoft.sim.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://2130706433/",
        "https://[::1]/",
        "https://169.254.169.254/",
        "https://contoso.crm.dynamics.com.evil.example/",
        "https://localhost/",
        "https://contoso.crm.dynamics.com:8443/",  # Dataverse answers on 443 only
    ],
)
def test_test_refuses_urls_outside_dataverse_domains(url, admin_client, microsoft):
    microsoft.sim.clear_requests()
    response = admin_client.post(
        "/connections/new/",
        {**good(microsoft, url=url), **_rest()},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert "url" in response.json()["errors"]
    assert microsoft.sim.count() == 0


@pytest.mark.django_db
def test_a_dns_answer_that_changes_after_the_check_cannot_steer_the_connection(admin_client, microsoft, resolver):
    original = resolver.resolve
    answers = iter(["127.0.0.1", "127.0.0.9"])  # checked answer, then a rebinding attempt

    def rebinding(host, port):
        if host == "contoso.crm.dynamics.com":
            return [(socket.AF_INET, (next(answers), microsoft.sim.port))]
        return original(host, port)

    resolver.resolve = rebinding
    answer = run_test(admin_client, **good(microsoft))
    assert answer["ok"] is True, answer["message"]  # connected to the checked address only
    assert next(answers) == "127.0.0.9"  # the second answer was never asked for


def _rest() -> dict:
    from tests.helpers import form_data

    data = form_data(action="test")
    return {k: v for k, v in data.items() if k not in ("client_id", "client_secret", "azure_tenant", "url")}
