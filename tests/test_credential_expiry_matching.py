"""Microsoft Graph's answer about the app's credentials: which one is the connection's (a secret by its hint, a
certificate by its thumbprint, hex or base64) and what each refusal means. The client layer alone, no Django."""

import base64
import datetime as dt

import pytest

from connections import limits
from connections.dynamics import clouds, credential_expiry, http
from connections.dynamics.certificates import from_key_and_chain
from connections.dynamics.errors import CheckError
from tests.simulator import make_certificate

ENDS = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)
READ_ALL = "Application.Read.All"


def test_the_refusal_explains_how_to_grant_the_permission_and_the_typed_date():
    refused = credential_expiry.graph_error(403, "Authorization_RequestDenied")
    assert refused.code == "expiry_forbidden"
    assert (
        "App registrations > the app > API permissions > Add a permission > Microsoft Graph > Application "
        "permissions > Application.Read.All, then Grant admin consent" in refused.hint
    )
    assert "Certificates & secrets > Expires column" in refused.hint


@pytest.mark.parametrize(
    ("status", "code", "says"),
    [
        (404, "expiry_app_not_found", "does not find the app registration"),
        (401, "expiry_unauthorized", "did not accept the token"),
        (500, "expiry_graph_error", "HTTP 500"),
        (429, "throttled", "Microsoft Graph is busy"),
    ],
)
def test_each_refusal_has_its_own_advice(status, code, says):
    error = credential_expiry.graph_error(status, "")
    assert error.code == code and says in error.message and error.hint


def test_it_matches_a_thumbprint_given_as_hex_or_as_base64_of_its_bytes():
    thumbprint = "3A" * 20
    as_base64 = base64.b64encode(bytes.fromhex(thumbprint)).decode()
    for identifier in (thumbprint, thumbprint.lower(), as_base64):
        reading = credential_expiry.find_certificate(
            [{"customKeyIdentifier": identifier, "endDateTime": "2027-03-01T12:00:00Z"}], thumbprint
        )
        assert reading.expires_at == ENDS and reading.credential == f"certificate:{thumbprint}"


def test_an_unknown_thumbprint_is_not_found():
    with pytest.raises(CheckError) as refused:
        credential_expiry.find_certificate([{"customKeyIdentifier": "AB" * 20, "endDateTime": "2027-03-01"}], "CD" * 20)
    assert refused.value.code == "expiry_certificate_not_found"


def test_secrets_sharing_a_hint_give_the_earliest_end_and_say_so():
    secrets = [
        {"hint": "abc", "endDateTime": "2028-01-01T00:00:00Z"},
        {"hint": "abc", "endDateTime": "2027-03-01T12:00:00Z"},
        {"hint": "xyz", "endDateTime": "2026-01-01T00:00:00Z"},
    ]
    reading = credential_expiry.find_secret(secrets, "abc")
    assert reading.expires_at == ENDS and reading.credential == "secret:abc"
    assert reading.note == "2 of the app's secrets begin like this one: the earliest end is shown."


def test_a_secret_missing_from_graph_says_so():
    with pytest.raises(CheckError) as refused:
        credential_expiry.find_secret([{"hint": "abc", "endDateTime": "2027-03-01T12:00:00Z"}], "zzz")
    assert refused.value.code == "expiry_secret_not_found"


def test_a_certificate_credential_is_matched_in_the_client_layer(microsoft):
    bundle = make_certificate("gathr-connector", valid_days=365)
    credential = from_key_and_chain(bundle.private_key, [bundle.certificate])
    microsoft.sim.add_certificate(microsoft.app.client_id, bundle.cert_pem)
    microsoft.sim.grant_graph(microsoft.app.client_id, READ_ALL)
    with http.budget(limits.test_limits()):
        reading = credential_expiry.read(
            clouds.CLOUDS["GLOBAL"], microsoft.tenant.tenant_id, microsoft.app.client_id, credential
        )
    assert reading.expires_at == bundle.certificate.not_valid_after_utc.replace(microsecond=0)
