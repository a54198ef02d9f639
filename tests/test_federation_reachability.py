"""issuer_problems(): what the connection page says when Microsoft Entra ID could not fetch this issuer's keys."""

import socket
import time

import pytest

from federation import issuer, reachability


def problems_for(settings, site_url: str) -> list[str]:
    settings.SITE_URL = site_url
    settings.ALLOWED_HOSTS = ["*"]
    return issuer.issuer_problems()


def test_a_public_https_address_has_no_problem(settings, resolver):
    resolver.add("connectors.example.com", "20.50.2.10")
    assert problems_for(settings, "https://connectors.example.com/crm") == []
    assert resolver.lookups == ["connectors.example.com"]


def test_it_says_when_this_site_would_refuse_its_own_host_name(settings, resolver):
    resolver.add("connectors.example.com", "20.50.2.10")
    settings.SITE_URL = "https://connectors.example.com"
    settings.ALLOWED_HOSTS = ["other.example.com", ".example.org"]
    assert issuer.issuer_problems() == [
        "SITE_URL's host connectors.example.com is not in ALLOWED_HOSTS: this site would answer Entra ID 400."
    ]
    settings.ALLOWED_HOSTS = [".example.com"]
    assert issuer.issuer_problems() == []


def test_it_says_when_site_url_is_unset(settings):
    assert problems_for(settings, "") == [
        "SITE_URL is not set: this site has no public address for Microsoft Entra ID to fetch its keys from."
    ]


def test_it_says_when_site_url_is_not_https(settings, resolver):
    resolver.add("connectors.example.com", "20.50.2.10")
    (problem,) = problems_for(settings, "http://connectors.example.com")
    assert problem.startswith("SITE_URL must start with https://") and problem.endswith("not http.")


@pytest.mark.parametrize(
    ("site_url", "reason"),
    [
        ("https://127.0.0.1", "a loopback address"),
        ("https://10.1.2.3:8443", "a private network address"),
        ("https://169.254.169.254", "a link-local address"),
        ("https://[::1]", "a loopback address"),
        ("https://2130706433", "a loopback address"),  # 127.0.0.1 spelled as a number
    ],
)
def test_it_refuses_a_literal_address_entra_id_cannot_reach(settings, site_url, reason):
    (problem,) = problems_for(settings, site_url)
    assert reason in problem and "Microsoft Entra ID cannot reach it" in problem


def test_it_refuses_addresses_the_outbound_allowance_lets_tests_reach(settings):
    import ipaddress

    settings.OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]  # TEST's allowance, not Entra ID's
    assert "a private network address" in problems_for(settings, "https://10.1.2.3")[0]


@pytest.mark.parametrize(
    ("site_url", "words"),
    [
        ("https://localhost:8000", "is this machine only"),
        ("https://app.localhost", "is this machine only"),
        ("https://crmconnector", "is a single-label name"),
    ],
)
def test_it_refuses_names_only_this_network_knows(settings, site_url, words):
    (problem,) = problems_for(settings, site_url)
    assert words in problem


def test_it_refuses_a_name_that_resolves_to_a_private_address(settings, resolver):
    resolver.add("connectors.corp.example.com", "192.168.10.5")
    (problem,) = problems_for(settings, "https://connectors.corp.example.com")
    assert "resolves to 192.168.10.5, a private network address" in problem


def test_a_name_that_does_not_resolve_is_reported_not_raised(settings):
    (problem,) = problems_for(settings, "https://nowhere.example.com")
    assert problem == (
        "SITE_URL's host nowhere.example.com could not be resolved from this server: "
        "check that it is a public DNS name."
    )


def test_a_slow_resolver_is_given_up_on(settings, monkeypatch):
    class Slow:
        def resolve(self, host, port):
            time.sleep(5)
            raise socket.gaierror("too late")

    monkeypatch.setattr(reachability.guard, "resolver", Slow())
    monkeypatch.setattr(reachability, "RESOLVE_TIMEOUT", 0.2)
    started = time.monotonic()
    (problem,) = problems_for(settings, "https://slow.example.com")
    assert time.monotonic() - started < 2
    assert "could not be resolved from this server" in problem
