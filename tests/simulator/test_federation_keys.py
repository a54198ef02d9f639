"""Workload identity federation: how the simulator's Entra fetches an issuer's keys, caches them, and fails.

Every fetch failure is AADSTS50166 "Request to External OIDC endpoint failed." (invalid_request, 400).
"""

from __future__ import annotations

import socket

import pytest
import trustme

from tests.simulator.conftest import FEDERATED_SUBJECT as SUBJECT
from tests.simulator.conftest import ISSUER_HOST
from tests.simulator.issuer_server import DISCOVERY_PATH, JWKS_PATH, IssuerServer
from tests.simulator.test_federation import assert_refused, claims_of, exchange


def token_status(sim, contoso, issuer, kid="key-1") -> int:
    return exchange(contoso, issuer.sign(claims_of(issuer, sim.now()), kid)).status_code


def assert_oidc_failure(sim, contoso, issuer) -> None:
    answer = exchange(contoso, issuer.sign(claims_of(issuer, sim.now()), "key-1"))
    text = assert_refused(answer, 400, "invalid_request", 50166)
    assert text.startswith("AADSTS50166: Request to External OIDC endpoint failed. Trace ID: ")


def fetched(sim) -> list[tuple[str, int | None]]:
    return [(fetch.url, fetch.status) for fetch in sim.issuer_fetches]


def test_it_cannot_reach_an_issuer_host_nobody_routed(sim, contoso, issuer):
    unrouted = "https://unrouted.gathr.test"  # as if DNS had no answer for it
    sim.add_federated_credential(contoso.app.client_id, unrouted, SUBJECT)
    answer = exchange(contoso, issuer.sign(claims_of(issuer, sim.now(), iss=unrouted), "key-1"))
    assert_refused(answer, 400, "invalid_request", 50166)
    assert fetched(sim) == [(unrouted + DISCOVERY_PATH, None)]


def test_it_fetches_only_over_https(sim, contoso, issuer):
    plain = f"http://{ISSUER_HOST}:{issuer.port}"
    sim.add_federated_credential(contoso.app.client_id, plain, SUBJECT)
    answer = exchange(contoso, issuer.sign(claims_of(issuer, sim.now(), iss=plain), "key-1"))
    assert_refused(answer, 400, "invalid_request", 50166)
    assert fetched(sim) == [(plain + DISCOVERY_PATH, None)]


def test_it_fails_when_the_issuer_refuses_the_connection(sim, trusted, issuer):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        free_port = closed.getsockname()[1]
    sim.route_issuer(ISSUER_HOST, free_port)
    assert_oidc_failure(sim, trusted, issuer)
    assert "ConnectionRefusedError" in sim.issuer_fetches[0].error


def test_it_trusts_only_its_own_ca_and_the_ones_it_is_given(sim, contoso, tmp_path):
    other_ca = trustme.CA()
    stranger = IssuerServer(ISSUER_HOST, other_ca.issue_cert(ISSUER_HOST))
    stranger.add_key("key-1")
    try:
        sim.route_issuer(ISSUER_HOST, stranger.port)
        sim.add_federated_credential(contoso.app.client_id, stranger.url, SUBJECT)
        assert_oidc_failure(sim, contoso, stranger)
        assert "CERTIFICATE_VERIFY_FAILED" in sim.issuer_fetches[0].error
        other_ca.cert_pem.write_to_path(str(tmp_path / "other-ca.pem"))
        sim.trust_issuer_ca(str(tmp_path / "other-ca.pem"))
        assert token_status(sim, contoso, stranger) == 200
    finally:
        stranger.stop()


def test_it_checks_the_certificate_names_the_issuer_host(sim, contoso):
    wrong_name = IssuerServer(ISSUER_HOST, sim.issue_server_certificate("elsewhere.gathr.test"))
    wrong_name.add_key("key-1")
    try:
        sim.route_issuer(ISSUER_HOST, wrong_name.port)
        sim.add_federated_credential(contoso.app.client_id, wrong_name.url, SUBJECT)
        assert_oidc_failure(sim, contoso, wrong_name)
    finally:
        wrong_name.stop()


@pytest.mark.parametrize(
    "overrides",
    [
        {"issuer": "https://issuer.gathr.test"},  # not the assertion's iss (its port is missing)
        {"jwks_uri": "http://issuer.gathr.test/jwks"},  # keys over plain http
        {"jwks_uri": None},
    ],
    ids=["other-issuer", "http-jwks-uri", "no-jwks-uri"],
)
def test_it_refuses_a_discovery_document_that_does_not_vouch_for_https_keys(sim, trusted, issuer, overrides):
    issuer.discovery_overrides = overrides
    assert_oidc_failure(sim, trusted, issuer)
    assert fetched(sim) == [(issuer.url + DISCOVERY_PATH, 200)]  # the keys were never asked for


@pytest.mark.parametrize("path", [DISCOVERY_PATH, JWKS_PATH])
def test_it_does_not_follow_a_redirect(sim, trusted, issuer, path):
    issuer.answers[path] = (302, {"Location": issuer.url + path})
    assert_oidc_failure(sim, trusted, issuer)
    assert fetched(sim)[-1] == (issuer.url + path, 302)


@pytest.mark.parametrize("status", [404, 500])
def test_it_fails_on_an_error_status(sim, trusted, issuer, status):
    issuer.answers[JWKS_PATH] = (status, {})
    assert_oidc_failure(sim, trusted, issuer)


def test_it_gives_up_on_a_silent_issuer_after_its_timeout(sim, trusted, issuer):
    sim.federation_fetch_timeout = 0.3
    issuer.silent.set()
    assert_oidc_failure(sim, trusted, issuer)
    assert "timed out" in sim.issuer_fetches[0].error


def test_it_fetches_for_every_assertion_by_default(sim, trusted, issuer):
    assert token_status(sim, trusted, issuer) == token_status(sim, trusted, issuer) == 200
    assert len(sim.issuer_fetches) == 4


def test_a_key_rotated_in_is_refused_while_the_cached_keys_are_fresh_and_accepted_after(sim, trusted, issuer):
    sim.federation_cache_seconds = 600
    assert token_status(sim, trusted, issuer) == 200
    issuer.add_key("key-2")  # published now, after Entra cached the keys
    assert_refused(
        exchange(trusted, issuer.sign(claims_of(issuer, sim.now()), "key-2")), 401, "invalid_client", 7000272
    )
    assert token_status(sim, trusted, issuer, "key-1") == 200
    assert len(sim.issuer_fetches) == 2  # an unknown kid did not make it refetch
    sim.advance(601)
    assert token_status(sim, trusted, issuer, "key-2") == 200
    assert len(sim.issuer_fetches) == 4


def test_an_app_has_at_most_twenty_federated_credentials(sim, contoso, issuer):
    for number in range(20):
        sim.add_federated_credential(contoso.app.client_id, issuer.url, f"connection:{number}")
    with pytest.raises(ValueError, match="at most 20"):
        sim.add_federated_credential(contoso.app.client_id, issuer.url, "connection:20")
    assert len(sim.federated_credentials(contoso.app.client_id)) == 20
    assert exchange(contoso, issuer.sign(claims_of(issuer, sim.now(), sub="connection:19"), "key-1")).ok
