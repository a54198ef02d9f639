"""“Sign in with Microsoft” (AuthScheme AzureAD) needs the Dynamics CRM trial or subscription, like TEST does.

Refused, nothing goes to Microsoft: no redirect to its sign-in page, no flow kept in the session, not one request
at the simulator's Entra ID.
"""

from urllib.parse import urlsplit

import pytest

from connections.models import Connection
from connections.sign_in import SESSION_KEY
from tests.marketplace.helpers import given, signed_in_at, text_of
from tests.test_azure_ad import CALLBACK, SITE

pytestmark = pytest.mark.no_entitlement


@pytest.fixture
def delegated(microsoft, settings, make_connection):
    settings.SITE_URL = SITE
    settings.ALLOWED_HOSTS = ["testserver", "gathr.example.com"]
    microsoft.sim.add_redirect_uri(microsoft.app.client_id, CALLBACK)
    return make_connection(
        name="Contoso delegated",
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        client_secret=microsoft.secret.value,
        auth_scheme="AzureAD",
        callback_url=CALLBACK,
    )


def click_sign_in(microsoft, dynamics_crm, admin_user, connection, state: str):
    moment = given(state, dynamics_crm, admin_user)
    microsoft.sim.clear_requests()
    with signed_in_at(moment, admin_user) as browser:
        response = browser.post(f"/connections/{connection.pk}/sign-in/")
        flows = browser.session.get(SESSION_KEY, {})
    return response, flows


REFUSED = {
    "no entitlement": "Dynamics CRM is a Premium connector and this organization has no trial or subscription for it.",
    "trial expired": "The Dynamics CRM trial ended on 2026-03-16 09:00 UTC.",
    "unsubscribed": "The Dynamics CRM subscription was cancelled on 2026-03-12 09:00 UTC.",
}


@pytest.mark.parametrize("state", REFUSED)
def test_it_refuses_sign_in_with_microsoft_without_an_active_trial_or_subscription(
    microsoft, dynamics_crm, admin_user, delegated, state
):
    response, flows = click_sign_in(microsoft, dynamics_crm, admin_user, delegated, state)
    assert response.status_code == 403
    assert "Location" not in response
    page = text_of(response.content.decode())
    assert REFUSED[state] in page
    assert "Creating, editing and testing Dynamics CRM connections needs an active trial or subscription" in page
    assert flows == {}
    assert microsoft.sim.count() == 0  # not even the tenant's sign-in configuration was asked for
    assert not Connection.objects.get(pk=delegated.pk).is_signed_in


def test_during_the_trial_it_sends_the_admin_to_microsoft(microsoft, dynamics_crm, admin_user, delegated):
    response, flows = click_sign_in(microsoft, dynamics_crm, admin_user, delegated, "trial day 1")
    assert response.status_code == 302
    assert urlsplit(response["Location"]).hostname == "login.microsoftonline.com"
    assert [entry["connection"] for entry in flows.values()] == [delegated.pk]


def test_the_refusal_names_sign_in_with_microsoft_not_test(microsoft, dynamics_crm, admin_user, delegated):
    response, _ = click_sign_in(microsoft, dynamics_crm, admin_user, delegated, "no entitlement")
    page = text_of(response.content.decode())
    assert "TEST was refused" not in page
    assert "Sign in with Microsoft was refused." in page
