"""A TEST refused by Microsoft Entra ID, then fixed there by the admin: the very next TEST says "Connection available".

msal replays a cached HTTP 400 for a minute to the application object that received it; the product drops a
refused application so that the TEST after the fix asks Entra again. The clock stands still between the two TESTs.
"""

import datetime as dt

import pytest
import time_machine

from tests.helpers import form_data
from tests.marketplace.helpers import text_of
from tests.test_connection_test import good

pytestmark = pytest.mark.django_db


def disable_the_app(microsoft):
    microsoft.sim.disable_app(microsoft.app.client_id)


def enable_the_app(microsoft):
    microsoft.sim.disable_app(microsoft.app.client_id, disabled=False)


def let_the_secret_expire(microsoft):
    microsoft.secret.expires_at = microsoft.sim.now() - 60


def extend_the_secret(microsoft):
    microsoft.secret.expires_at = None


# What went wrong in Entra: (break it, fix it, the code TEST shows). Entra answers the disabled app with
# HTTP 400 (the status msal replays), the expired secret with 401.
FIXES = {
    "the app was disabled": (disable_the_app, enable_the_app, "AADSTS7000112"),
    "the client secret expired": (let_the_secret_expire, extend_the_secret, "AADSTS7000222"),
}


def one_instant():
    return time_machine.travel(dt.datetime.now(dt.UTC), tick=False)


@pytest.mark.parametrize("what", FIXES)
def test_it_reports_available_on_the_connection_page_right_after_the_fix(
    admin_client, microsoft, make_connection, what
):
    break_it, fix_it, code = FIXES[what]
    saved = make_connection(
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        client_secret=microsoft.secret.value,
    )
    page = f"/connections/{saved.pk}/"
    break_it(microsoft)
    with one_instant():
        refused = text_of(admin_client.post(f"{page}test/", {"next": page}, follow=True).content.decode())
        fix_it(microsoft)
        fixed = text_of(admin_client.post(f"{page}test/", {"next": page}, follow=True).content.decode())
    assert "Connection unavailable: Token from Entra ID failed." in refused and code in refused
    assert "Connection available: signed in to Dataverse" in fixed, fixed
    assert "Connection unavailable" not in fixed
    assert "Last TEST Available" in fixed
    # The second TEST asked Entra again, for Dataverse and for Microsoft Graph (the credential's expiry).
    assert microsoft.sim.count(path_contains="/oauth2/v2.0/token") == 3


@pytest.mark.parametrize("what", FIXES)
def test_it_reports_available_on_the_form_right_after_the_fix(admin_client, microsoft, what):
    break_it, fix_it, code = FIXES[what]
    data = {"action": "test", **good(microsoft)}
    break_it(microsoft)
    with one_instant():
        refused = admin_client.post("/connections/new/", form_data(**data), HTTP_ACCEPT="application/json").json()
        fix_it(microsoft)
        fixed = admin_client.post("/connections/new/", form_data(**data), HTTP_ACCEPT="application/json").json()
    assert refused["ok"] is False and code in refused["message"], refused["message"]
    assert fixed["ok"] is True, fixed["message"]
    assert fixed["message"].startswith("Connection available")
    # The second TEST asked Entra again (a form TEST reads no expiry: no Graph token).
    assert microsoft.sim.count(path_contains="/oauth2/v2.0/token") == 2
