"""The simulator's disabled apps and documented AADSTS answers, in the shape Entra sends them."""

from __future__ import annotations

import uuid

import pytest

from tests.simulator import aadsts
from tests.simulator.conftest import ENV_URL
from tests.simulator.test_simulator import DESCRIPTION, post_token, token_for

CLIENT_CREDENTIALS = {"grant_type": "client_credentials", "scope": ENV_URL + ".default"}


def test_a_disabled_app_is_refused_until_it_is_enabled_again(sim, contoso):
    sim.disable_app(contoso.app.client_id)
    refused = post_token(
        contoso.tenant.tenant_id,
        {**CLIENT_CREDENTIALS, "client_id": contoso.app.client_id, "client_secret": contoso.secret.value},
    )
    assert refused.status_code == 400
    body = refused.json()
    assert body["error"] == "unauthorized_client" and body["error_codes"] == [7000112]
    assert DESCRIPTION.match(body["error_description"])
    assert f"Application '{contoso.app.client_id}'(Gathr connector) is disabled." in body["error_description"]
    sim.disable_app(contoso.app.client_id, disabled=False)
    assert "access_token" in token_for(contoso)


@pytest.mark.parametrize("code", sorted(aadsts.DOCUMENTED))
def test_each_documented_error_is_answered_once_as_entra_sends_it(sim, contoso, code):
    status, error, _, suberror = aadsts.DOCUMENTED[code]
    sim.set_aadsts(code)
    request_id = str(uuid.uuid4())
    data = {**CLIENT_CREDENTIALS, "client_id": contoso.app.client_id, "client_secret": contoso.secret.value}
    answer = post_token(contoso.tenant.tenant_id, data, headers={"client-request-id": request_id})
    assert answer.status_code == status
    body = answer.json()
    assert body["error"] == error and body["error_codes"] == [code]
    assert DESCRIPTION.match(body["error_description"]) and body["error_description"].startswith(f"AADSTS{code}: ")
    assert body["correlation_id"] == request_id and body["trace_id"] and body["timestamp"]
    assert body.get("suberror") == suberror
    assert "{" not in body["error_description"]  # every placeholder filled in
    assert "access_token" in token_for(contoso)  # once only


def test_an_undocumented_code_is_refused_by_the_knob(sim):
    with pytest.raises(ValueError, match="AADSTS12345 is not in aadsts.DOCUMENTED"):
        sim.set_aadsts(12345)
