"""Key rotation and the AzureAD sign-in: `rotate_encryption_key` re-encrypts the stored token cache too, so a
signed-in connection keeps working once only the new key is configured."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client

from connections import crypto
from connections.models import Connection
from tests.azure_ad_helpers import add_delegated_connection, sign_in
from tests.helpers import form_data
from tests.test_azure_ad import CALLBACK, three_hours_later

OLD, NEW = (Fernet.generate_key().decode() for _ in range(2))


@pytest.fixture
def signed_in_under_the_old_key(microsoft, settings, make_connection, admin_client):
    """An AzureAD connection whose client secret and token cache were both encrypted with OLD."""
    settings.FIELD_ENCRYPTION_KEY = [OLD]
    add_delegated_connection(microsoft, settings, make_connection)
    assert "Signed in to Microsoft as Maria Garcia" in sign_in(admin_client, microsoft)
    return microsoft


def stored(microsoft) -> Connection:
    return Connection.objects.get(pk=microsoft.saved.pk)


def rotate() -> str:
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    return out.getvalue()


def click_test(client: Client, microsoft) -> dict:
    return client.post(f"/connections/{microsoft.saved.pk}/test/", HTTP_ACCEPT="application/json").json()


def test_it_re_encrypts_the_token_cache_so_that_the_new_key_alone_reads_it(signed_in_under_the_old_key, settings):
    microsoft = signed_in_under_the_old_key
    before = stored(microsoft).token_cache_encrypted
    refresh_token = microsoft.sim.newest_refresh_token(microsoft.person.object_id)
    settings.FIELD_ENCRYPTION_KEY = [NEW, OLD]
    assert "Re-encrypted 1 connection(s); 0 already used the newest key." in rotate()
    settings.FIELD_ENCRYPTION_KEY = [NEW]
    after = stored(microsoft)
    assert after.token_cache_encrypted != before
    assert crypto.is_current(after.token_cache_encrypted)
    assert refresh_token in after.get_token_cache()


def test_after_rotation_a_signed_in_connection_still_tests_and_refreshes(
    signed_in_under_the_old_key, settings, admin_client
):
    microsoft = signed_in_under_the_old_key
    settings.FIELD_ENCRYPTION_KEY = [NEW, OLD]
    rotate()
    settings.FIELD_ENCRYPTION_KEY = [NEW]  # the old key is gone
    answer = click_test(admin_client, microsoft)
    assert answer["ok"] is True, answer["message"]
    assert microsoft.member.user_id in answer["message"]
    with three_hours_later():  # the access token expired: TEST redeems the stored refresh token
        answer = click_test(admin_client, microsoft)
    assert answer["ok"] is True, answer["message"]
    assert microsoft.sim.refresh_count(microsoft.person.object_id) == 1
    assert microsoft.sim.newest_refresh_token(microsoft.person.object_id) in stored(microsoft).get_token_cache()


def test_a_token_cache_no_key_reads_asks_to_sign_in_again_after_the_secret_is_entered_again(
    signed_in_under_the_old_key, settings, admin_client
):
    microsoft = signed_in_under_the_old_key
    settings.FIELD_ENCRYPTION_KEY = [NEW]  # the old key was lost before any rotation
    answer = click_test(admin_client, microsoft)
    assert answer["ok"] is False and "cannot be decrypted" in answer["message"]
    assert "Enter the Client Secret again" in answer["hint"]
    edit = form_data(
        name="Contoso delegated",
        client_id=microsoft.app.client_id,
        client_secret=microsoft.secret.value,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
        auth_scheme="AzureAD",
        callback_url=CALLBACK,
        action="save",
    )
    assert admin_client.post(f"/connections/{microsoft.saved.pk}/edit/", edit).status_code == 302
    answer = click_test(admin_client, microsoft)
    assert answer["ok"] is False
    assert "Sign in again" in answer["html"]
