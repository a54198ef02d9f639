"""What an admin is told for Entra ID and Dataverse error answers (real bodies, table-driven)."""

import pytest

from connections.dynamics.answers import DataverseAnswer, dataverse_error
from connections.dynamics.errors import aadsts_code, entra_error

TAIL = (
    " Trace ID: 0b7a8a1e-2c4d-4f3e-9a1b-7c6d5e4f3a2b Correlation ID: 5f4e3d2c-1b0a-4998-8776-655443322110"
    " Timestamp: 2026-11-27 03:00:00Z"
)


def body(code: int, error: str, text: str) -> dict:
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {text}{TAIL}",
        "error_codes": [code],
        "timestamp": "2026-11-27 03:00:00Z",
        "trace_id": "0b7a8a1e-2c4d-4f3e-9a1b-7c6d5e4f3a2b",
        "correlation_id": "5f4e3d2c-1b0a-4998-8776-655443322110",
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


ENTRA_CASES = [
    (90002, "invalid_tenant", "Tenant 'x' not found.", "tenant_not_found", "Check AzureTenant"),
    (
        700016,
        "unauthorized_client",
        "Application with identifier 'x' was not found",
        "application_not_found",
        "Client ID",
    ),
    (7000215, "invalid_client", "Invalid client secret provided.", "invalid_client_secret", "not its Secret ID"),
    (
        7000222,
        "invalid_client",
        "The provided client secret keys for app 'x' are expired.",
        "client_secret_expired",
        "Create a new client secret",
    ),
    (
        700027,
        "invalid_client",
        "Client assertion failed signature validation.",
        "certificate_rejected",
        "Upload this certificate",
    ),
    (700024, "invalid_client", "Client assertion is not within its valid time range.", "certificate_rejected", "clock"),
    (500011, "invalid_resource", "The resource principal named x was not found", "resource_not_found", "Check the URL"),
    (65001, "invalid_grant", "The user or administrator has not consented", "consent_required", "grant admin consent"),
]


@pytest.mark.parametrize(("code", "error", "text", "outcome", "hint"), ENTRA_CASES)
def test_it_turns_each_entra_code_into_advice(code, error, text, outcome, hint):
    checked = entra_error(body(code, error, text), "GLOBAL", 400)
    assert checked.code == outcome
    assert f"AADSTS{code}" in checked.message
    assert hint in checked.hint
    assert checked.details["trace_id"] == "0b7a8a1e-2c4d-4f3e-9a1b-7c6d5e4f3a2b"
    assert checked.details["correlation_id"] == "5f4e3d2c-1b0a-4998-8776-655443322110"
    assert "Trace ID" not in checked.details["entra_says"]


def test_an_unknown_code_keeps_entras_own_words_status_and_ids():
    checked = entra_error(body(9999999, "invalid_request", "Something new went wrong."), "GLOBAL", 400)
    assert checked.code == "entra_error"
    assert "HTTP 400" in checked.message and "Something new went wrong." in checked.message
    assert checked.details["trace_id"]


def test_a_server_error_at_entra_points_to_an_outage_not_to_the_settings():
    checked = entra_error(body(90033, "temporarily_unavailable", "A transient error has occurred."), "GLOBAL", 503)
    assert checked.code == "entra_unavailable"
    assert "HTTP 503" in checked.message and "status.azure.com" in checked.hint
    assert "Client ID" not in checked.hint


def test_it_reads_the_code_from_the_description_when_error_codes_is_missing():
    assert aadsts_code({"error_description": "AADSTS700016: Application not found"}) == 700016
    assert aadsts_code({"error": "invalid_request"}) is None


DATAVERSE_CASES = [
    (
        DataverseAnswer(403, "0x80072560", "The user is not a member of the organization."),
        "no_application_user",
        "Application users",
    ),
    (
        DataverseAnswer(403, "0x80040220", "Principal user is missing prvReadAccount privilege"),
        "forbidden",
        "security role",
    ),
    (DataverseAnswer(401, www_authenticate='Bearer error="invalid_token"'), "dataverse_unauthorized", "AzureTenant"),
    (DataverseAnswer(404, "0x80060888", "Resource not found"), "not_dataverse", "Environment URL"),
    (DataverseAnswer(429, "0x80072322", "Number of requests exceeded the limit"), "throttled", "Try again"),
    (DataverseAnswer(503), "throttled", "Try again"),
    (DataverseAnswer(500, "0x80040216", "An unexpected error occurred."), "dataverse_error", "environment"),
]


@pytest.mark.parametrize(("answer", "outcome", "hint"), DATAVERSE_CASES)
def test_it_turns_each_dataverse_answer_into_advice(answer, outcome, hint):
    checked = dataverse_error(answer, "WhoAmI")
    assert checked.code == outcome
    assert hint in checked.hint
    assert checked.details["http_status"] == str(answer.status)
