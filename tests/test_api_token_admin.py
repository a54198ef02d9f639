"""API tokens in the admin: everyone's, read-only, never the digest; administrators revoke them with an action."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from api_tokens.models import ApiToken
from audit.models import Action, AuditEvent
from tests.helpers import USER_PASSWORD

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/api_tokens/apitoken/"


@pytest.fixture
def maria_token(user):
    return ApiToken.issue(user, "Maria's export")


def revoke(client: Client, *tokens: ApiToken):
    return client.post(CHANGELIST, {"action": "revoke", "_selected_action": [token.pk for token in tokens]})


def test_it_lists_everyones_tokens_without_their_digest(admin_client, maria_token):
    row, plaintext = maria_token
    page = admin_client.get(CHANGELIST).content.decode()
    assert "Maria&#x27;s export" in page and row.prefix in page and "Active" in page
    assert row.digest not in page and plaintext not in page
    assert 'value="revoke"' in page


def test_a_token_page_is_read_only_and_has_no_digest(admin_client, maria_token):
    row, _ = maria_token
    response = admin_client.get(f"{CHANGELIST}{row.pk}/change/")
    page = response.content.decode()
    assert response.status_code == 200
    assert row.digest not in page and 'name="name"' not in page and "Save" not in page


def test_tokens_are_not_added_in_the_admin(admin_client):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


def test_an_administrator_revokes_anyones_token_and_it_is_recorded(admin_client, admin_user, maria_token):
    row, plaintext = maria_token
    response = revoke(admin_client, row)
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=row.pk).state() == "revoked"
    event = AuditEvent.objects.get(action=Action.TOKEN_REVOKED)
    assert event.actor == admin_user and row.prefix in event.detail and "maria" in event.detail
    assert plaintext not in event.detail


def test_revoking_an_already_revoked_token_records_nothing_more(admin_client, user, maria_token):
    row, _ = maria_token
    row.revoke(by=user)
    revoke(admin_client, row)
    assert AuditEvent.objects.filter(action=Action.TOKEN_REVOKED).count() == 1


def test_staff_who_may_only_view_tokens_cannot_revoke_them(maria_token):
    row, _ = maria_token
    viewer = get_user_model().objects.create_user("viewer", password=USER_PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_apitoken"))
    client = Client()
    client.force_login(viewer)
    assert 'value="revoke"' not in client.get(CHANGELIST).content.decode()
    revoke(client, row)
    assert ApiToken.objects.get(pk=row.pk).revoked_at is None
