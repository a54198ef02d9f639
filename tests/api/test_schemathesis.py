"""The API against the running app, from its own OpenAPI schema (schemathesis): every operation, with a token and
without, with valid and invalid input. No answer is a 5xx, and every answer matches the schema (status, content type,
headers and body)."""

import itertools

import pytest
import requests
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi import checks as openapi_checks

from api_tokens.models import ApiToken
from tests.api.conftest import connection_body

BODIES = ("/api/v1/connections/", "/api/v1/connections/{id}/", "/api/v1/tests/")

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
def token(live_server, admin_user) -> str:
    return ApiToken.issue(admin_user, "schemathesis")[1]


class Aim:
    """Every other example is aimed at a real connection with a valid body and its current ETag, and a TEST's run id
    at a TEST its user started: random ids and bodies alone only reach 400 and 404, and the success paths (200, 201,
    202, 204) and 412 must match the schema too. A DELETE is aimed at a connection of its own, so that the others
    keep theirs."""

    def __init__(self, make_connection, base_url: str, token: str):
        self.make_connection, self.base_url, self.token = make_connection, base_url, token
        self.connection = make_connection(name="Schemathesis", scope="organization")
        self.examples = itertools.count()

    def __call__(self, case) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"}
        number = next(self.examples)
        if number % 2:
            return headers
        if case.body is not NOT_SET and case.operation.path in BODIES:
            case.body = connection_body(name=f"Schemathesis {number}")
        if "id" in case.path_parameters:
            target = self.make_connection() if case.method == "DELETE" else self.connection
            case.path_parameters["id"] = target.pk
            if number % 4 == 0:  # half of these with the current ETag, the others 412 or 428
                headers["If-Match"] = self.etag(target.pk, headers)
        if "run_id" in case.path_parameters:  # a TEST this token's user started (it runs at once: Huey's immediate)
            started = requests.post(
                f"{self.base_url}/api/v1/connections/{self.connection.pk}/tests/", headers=headers, timeout=30
            )
            if started.status_code == 202:
                case.path_parameters["run_id"] = started.json()["id"]
        return headers

    def etag(self, pk: int, headers: dict) -> str:
        return requests.get(f"{self.base_url}/api/v1/connections/{pk}/", headers=headers, timeout=10).headers["ETag"]


@pytest.fixture
def aim(live_server, token, make_connection) -> Aim:
    return Aim(make_connection, live_server.url, token)


def test_the_live_server_serves_the_schema_tested_here(live_server):
    assert requests.get(f"{live_server.url}/api/v1/openapi.json", timeout=10).json() == DOCUMENT


@pytest.mark.timeout(180)
@schema.parametrize()
@FIXTURES_KEPT
def test_every_operation_with_a_token(case, live_server, aim):
    case.call_and_validate(base_url=live_server.url, headers=aim(case), checks=CHECKS)


@pytest.mark.timeout(180)
@schema.parametrize()
@FIXTURES_KEPT
def test_every_operation_without_a_token(case, live_server):
    response = case.call_and_validate(base_url=live_server.url, checks=CHECKS)
    assert response.status_code in (401, 404, 405, 406, 415), response.text
