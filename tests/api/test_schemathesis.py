"""The API against the running app, from its own OpenAPI schema (schemathesis): every operation, with a token and
without, with valid and invalid input. No answer is a 5xx, and every answer matches the schema (status, content type,
headers and body)."""

import pytest
import requests
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks as openapi_checks

from api_tokens.models import ApiToken

# Each operation gets this many examples per mode: 12 operations x 2 modes x 2 runs stay well under 2 minutes.
EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]

# The live server, its database and the token are the same for every example of an operation, as intended.
FIXTURES_KEPT = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def served_schema() -> dict:
    """The document the app serves at /api/v1/openapi.json (read at collection: pytest parametrizes from it; the
    live server serves the same, test_the_live_server_serves_the_schema_tested_here checks it)."""
    answer = Client(SERVER_NAME="localhost").get("/api/v1/openapi.json")  # ALLOWED_HOSTS, before the tests set it
    assert answer.status_code == 200, answer.content[:500]
    return answer.json()


DOCUMENT = served_schema()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES, deterministic=True
)


@pytest.fixture
def token(live_server, admin_user, make_connection) -> str:
    make_connection(name="Schemathesis", scope="organization")
    return ApiToken.issue(admin_user, "schemathesis")[1]


def test_the_live_server_serves_the_schema_tested_here(live_server):
    assert requests.get(f"{live_server.url}/api/v1/openapi.json", timeout=10).json() == DOCUMENT


@pytest.mark.timeout(180)
@schema.parametrize()
@FIXTURES_KEPT
def test_every_operation_with_a_token(case, live_server, token):
    case.call_and_validate(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@pytest.mark.timeout(180)
@schema.parametrize()
@FIXTURES_KEPT
def test_every_operation_without_a_token(case, live_server):
    response = case.call_and_validate(base_url=live_server.url, checks=CHECKS)
    assert response.status_code in (401, 404, 405, 406, 415), response.text
