"""Preview of an AzureAD (delegated) connection: it reads as the signed-in user, refreshes and keeps the token
cache as TEST does, and explains the environment's app access control, which refuses user tokens of a blocked app."""

import pytest

from connections.models import Connection
from tests.azure_ad_helpers import add_delegated_connection, sign_in
from tests.preview_helpers import failure, preview_table
from tests.test_azure_ad import three_hours_later

pytestmark = pytest.mark.django_db


@pytest.fixture
def delegated(admin_client, microsoft, settings, make_connection):
    found = add_delegated_connection(microsoft, settings, make_connection)
    sign_in(admin_client, found)
    return found


def preview(client, connection, table="account"):
    return client.post(f"/connections/{connection.pk}/preview/", {"table": table})


def test_it_previews_as_the_signed_in_user_and_keeps_the_refreshed_token_cache(admin_client, delegated):
    assert len(preview_table(preview(admin_client, delegated.saved)).rows) == 2
    before = Connection.objects.get(pk=delegated.saved.pk).token_cache_version
    with three_hours_later():  # the access token expired: the preview refreshes it
        assert len(preview_table(preview(admin_client, delegated.saved)).rows) == 2
    assert Connection.objects.get(pk=delegated.saved.pk).token_cache_version == before + 1


def test_it_explains_an_app_blocked_by_app_access_control(admin_client, delegated):
    delegated.sim.block_app(delegated.env.url, delegated.app.client_id)
    text = failure(preview(admin_client, delegated.saved))
    assert "app access control blocks this app (HTTP 403, 0x80095ffc" in text
    assert "App access control" in text and "allow the app's Client ID" in text
