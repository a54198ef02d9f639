"""Workload identity federation: the simulator's Entra judges assertions signed by an external OIDC issuer.

The issuer is a TLS server of the test's own (:mod:`.issuer_server`, certificate from the simulator's CA); the
token endpoint is driven by unmodified msal and by plain requests.
"""

from __future__ import annotations

import time
import uuid

import jwt
import msal
import pytest
import requests

from tests.simulator.conftest import FEDERATED_SUBJECT as SUBJECT
from tests.simulator.issuer_server import DISCOVERY_PATH, JWKS_PATH
from tests.simulator.test_simulator import DESCRIPTION, WHOAMI, bearer, post_token

EXCHANGE = "api://AzureADTokenExchange"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def claims_of(issuer, now: float, **overrides) -> dict:
    now = int(now)
    claims = {"iss": issuer.url, "sub": SUBJECT, "aud": EXCHANGE, "iat": now, "nbf": now, "exp": now + 600}
    return {**claims, "jti": str(uuid.uuid4()), **overrides}


def exchange(contoso, assertion: str) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": contoso.app.client_id,
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
        "scope": "https://contoso.crm.dynamics.com/.default",
    }
    return post_token(contoso.tenant.tenant_id, form, headers={"client-request-id": str(uuid.uuid4())})


def assert_refused(answer: requests.Response, status: int, error: str, code: int) -> str:
    """The answer is Entra's error body for AADSTS``code``; returns its description."""
    body = answer.json()
    assert (answer.status_code, body["error"], body["error_codes"]) == (status, error, [code])
    assert DESCRIPTION.match(body["error_description"]) and body["error_description"].startswith(f"AADSTS{code}: ")
    assert body["correlation_id"] == answer.request.headers["client-request-id"]
    assert body["trace_id"] and body["timestamp"] in body["error_description"]
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    return body["error_description"]


def test_msal_exchanges_a_federated_assertion_for_an_app_token_that_whoami_accepts(sim, trusted, issuer):
    signed = []

    def assertion() -> str:
        signed.append(issuer.sign(claims_of(issuer, sim.now()), "key-1"))
        return signed[-1]

    app = msal.ConfidentialClientApplication(
        trusted.app.client_id,
        client_credential={"client_assertion": assertion},
        authority="https://login.microsoftonline.com/contoso.onmicrosoft.com",
        instance_discovery=False,
        http_client=requests.Session(),
    )
    result = app.acquire_token_for_client(["https://contoso.crm.dynamics.com/.default"])
    assert result.get("token_type") == "Bearer", (result, sim.issuer_fetches)
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["appid"] == trusted.app.client_id and claims["oid"] == trusted.app.object_id
    assert claims["aud"] == "https://contoso.crm.dynamics.com" and claims["idtyp"] == "app"
    whoami = requests.get(WHOAMI, headers=bearer(result["access_token"]), timeout=5)
    assert whoami.status_code == 200 and whoami.json()["UserId"] == trusted.user.user_id
    assert len(signed) == 1
    fetched = [(fetch.url, fetch.status) for fetch in sim.issuer_fetches]
    assert fetched == [(issuer.url + DISCOVERY_PATH, 200), (issuer.url + JWKS_PATH, 200)]


def test_it_rejects_an_issuer_no_credential_names_exactly(sim, contoso, issuer):
    sim.add_federated_credential(contoso.app.client_id, issuer.url + "/", SUBJECT)  # a trailing slash differs
    answer = exchange(contoso, issuer.sign(claims_of(issuer, sim.now()), "key-1"))
    text = assert_refused(answer, 401, "invalid_client", 700211)
    assert f"presented assertion issuer '{issuer.url}'." in text
    assert sim.issuer_fetches == []  # records are matched before any fetch


def test_it_rejects_an_audience_the_issuers_credentials_do_not_list(sim, trusted, issuer):
    answer = exchange(trusted, issuer.sign(claims_of(issuer, sim.now(), aud="api://AzureADMyOrg"), "key-1"))
    assert "presented assertion audience 'api://AzureADMyOrg'." in assert_refused(answer, 401, "invalid_client", 700212)


def test_it_rejects_a_subject_that_differs_only_in_case_naming_the_three_values(sim, trusted, issuer):
    answer = exchange(trusted, issuer.sign(claims_of(issuer, sim.now(), sub="Connection:42"), "key-1"))
    text = assert_refused(answer, 401, "invalid_client", 70021)
    assert (
        f"No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer.url}'. "
        f"Assertion Subject: 'Connection:42'. Assertion Audience: '{EXCHANGE}'."
    ) in text


@pytest.mark.parametrize(
    "shift",
    [
        {"exp": -301, "nbf": -900, "iat": -900},  # expired beyond the 5 minutes of skew
        {"nbf": 301},  # not yet valid
        {"iat": 301},  # issued in the future
    ],
    ids=["expired", "not-yet-valid", "issued-later"],
)
def test_it_rejects_an_assertion_outside_its_lifetime_on_the_simulator_clock(sim, trusted, issuer, shift):
    now = sim.now()
    times = {name: int(now + seconds) for name, seconds in shift.items()}
    answer = exchange(trusted, issuer.sign(claims_of(issuer, now, **times), "key-1"))
    text = assert_refused(answer, 401, "invalid_client", 700024)
    assert "Client assertion is not within its valid time range." in text


def test_it_allows_five_minutes_of_clock_skew(sim, trusted, issuer):
    now = sim.now()
    times = {"exp": int(now - 240), "nbf": int(now + 240), "iat": int(now + 240)}
    assert exchange(trusted, issuer.sign(claims_of(issuer, now, **times), "key-1")).status_code == 200


def test_the_clock_is_the_simulators(sim, trusted, issuer):
    assertion = issuer.sign(claims_of(issuer, time.time()), "key-1")
    sim.advance(3600)
    assert_refused(exchange(trusted, assertion), 401, "invalid_client", 700024)


def test_it_rejects_a_kid_the_issuer_does_not_publish(sim, trusted, issuer):
    issuer.add_key("key-2", publish=False)
    answer = exchange(trusted, issuer.sign(claims_of(issuer, sim.now()), "key-2"))
    text = assert_refused(answer, 401, "invalid_client", 7000272)
    assert "identifier key-2 used to sign the federated credential" in text and issuer.url in text


def test_it_rejects_a_signature_by_another_key_under_a_published_kid(sim, trusted, issuer):
    forger = issuer.add_key("forger", publish=False)
    answer = exchange(trusted, issuer.sign(claims_of(issuer, sim.now()), "key-1", key=forger))
    assert "failed signature validation" in assert_refused(answer, 401, "invalid_client", 700027)


@pytest.mark.parametrize("algorithm", ["none", "HS256"])
def test_it_rejects_unsigned_and_shared_key_assertions_as_malformed(sim, trusted, issuer, algorithm):
    key = None if algorithm == "none" else "a-shared-secret-of-at-least-32-bytes!"
    assertion = jwt.encode(claims_of(issuer, sim.now()), key, algorithm=algorithm, headers={"kid": "key-1"})
    assert_refused(exchange(trusted, assertion), 400, "invalid_request", 50027)
    assert sim.issuer_fetches == []


@pytest.mark.parametrize("change", [{"aud": [EXCHANGE]}, {"exp": None}], ids=["list-aud", "no-exp"])
def test_it_rejects_a_list_audience_or_no_expiry_as_malformed(sim, trusted, issuer, change):
    claims = {k: v for k, v in {**claims_of(issuer, sim.now()), **change}.items() if v is not None}
    assert_refused(exchange(trusted, issuer.sign(claims, "key-1")), 400, "invalid_request", 50027)
