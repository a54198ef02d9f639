"""Dataverse's service protection API limits on the simulator: the headers, the three 429s, Retry-After."""

from __future__ import annotations

import threading

import requests

from tests.simulator.conftest import ENV_URL
from tests.simulator.test_simulator import WHOAMI, bearer, cca, token_for

BURST = "x-ms-ratelimit-burst-remaining-xrm-requests"
TIME = "x-ms-ratelimit-time-remaining-xrm-requests"


def whoami(token: str) -> requests.Response:
    return requests.get(WHOAMI, headers=bearer(token), timeout=5)


def test_it_reports_what_is_left_on_every_answer(sim, contoso):
    token = token_for(contoso)["access_token"]
    answers = [whoami(token) for _ in range(3)]
    assert [a.headers[BURST] for a in answers] == ["5999", "5998", "5997"]
    assert [a.headers[TIME] for a in answers] == ["1,199.99", "1,199.98", "1,199.97"]


def test_clear_knobs_goes_back_to_limits_that_are_reported_but_not_enforced(sim, contoso):
    token = token_for(contoso)["access_token"]
    sim.set_service_protection(ENV_URL, remaining_requests=0)
    assert whoami(token).status_code == 429
    sim.clear_knobs()
    answer = whoami(token)
    assert answer.status_code == 200 and answer.headers[BURST] == "5999"


def test_it_answers_429_when_the_requests_are_used_up(sim, contoso):
    token = token_for(contoso)["access_token"]
    sim.set_service_protection(ENV_URL, remaining_requests=2)
    assert whoami(token).headers[BURST] == "1"
    assert whoami(token).headers[BURST] == "0"
    refused = whoami(token)
    assert refused.status_code == 429
    assert refused.json() == {
        "error": {
            "code": "0x80072322",
            "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
        }
    }
    assert refused.headers["Retry-After"] == "300"
    assert BURST not in refused.headers


def test_retry_after_says_when_the_window_has_room_again(sim, contoso):
    token = token_for(contoso)["access_token"]
    sim.set_service_protection(ENV_URL, requests=2)
    whoami(token)
    sim.advance(100)
    whoami(token)
    sim.advance(50)
    assert whoami(token).headers["Retry-After"] == "150"
    sim.advance(150)
    answer = whoami(token)
    assert answer.status_code == 200 and answer.headers[BURST] == "0"


def test_a_fixed_retry_after_and_the_execution_time_limit(sim, contoso):
    token = token_for(contoso)["access_token"]
    sim.set_service_protection(ENV_URL, remaining_seconds=0.5, request_seconds=0.5, retry_after=7)
    assert whoami(token).headers[TIME] == "0.00"
    refused = whoami(token)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "7"
    assert refused.json()["error"]["code"] == "0x80072321"
    assert refused.json()["error"]["message"].startswith(
        "Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window "
        "of 300 seconds."
    )


def test_too_many_concurrent_requests_are_refused_at_once(sim, contoso):
    token = token_for(contoso)["access_token"]
    sim.set_service_protection(ENV_URL, concurrent=1)
    sim.set_delay(0.5, host="contoso.crm.dynamics.com", times=1)
    slow = []
    first = threading.Thread(target=lambda: slow.append(whoami(token)))
    first.start()
    while not sim.count(host="contoso.crm.dynamics.com"):
        threading.Event().wait(0.01)
    threading.Event().wait(0.05)  # logged first, then counted as in flight
    refused = whoami(token)
    first.join()
    assert slow[0].status_code == 200
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.json()["error"] == {
        "code": "0x80072326",
        "message": "Number of concurrent requests exceeded the limit of 1.",
    }


def test_each_user_has_its_own_limits(sim, contoso):
    other = sim.add_app(contoso.tenant.tenant_id, display_name="Another integration")
    other_secret = sim.add_secret(other.client_id)
    sim.add_application_user(contoso.env.url, other.client_id)
    sim.set_service_protection(ENV_URL, remaining_requests=0)
    assert whoami(token_for(contoso)["access_token"]).status_code == 429
    other_token = cca(other.client_id, other_secret.value).acquire_token_for_client([ENV_URL + ".default"])
    assert whoami(other_token["access_token"]).status_code == 429  # every user starts with 0 left
    sim.set_service_protection(ENV_URL, remaining_requests=1)
    assert whoami(token_for(contoso)["access_token"]).status_code == 200
    assert whoami(other_token["access_token"]).status_code == 200


def test_a_forced_429_is_the_request_limit_error(sim, contoso):
    token = token_for(contoso)["access_token"]
    sim.set_responses([(429, {"Retry-After": "2"})], host="contoso.crm.dynamics.com")
    refused = whoami(token)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "2"
    assert refused.json()["error"]["code"] == "0x80072322"
