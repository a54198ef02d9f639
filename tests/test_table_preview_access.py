"""Who may preview a connection's tables (its owner and administrators: it shows customer data), how often, and the
field's rules."""

import pytest
from django.test import Client

from audit.models import Action, AuditEvent
from tests.helpers import field_error
from tests.preview_helpers import preview_table, text_of
from tests.test_connection_test import good

pytestmark = pytest.mark.django_db


def preview(client, connection, table="account"):
    return client.post(f"/connections/{connection.pk}/preview/", {"table": table})


def signed_in(person) -> Client:
    browser = Client()
    browser.force_login(person)
    return browser


def test_its_owner_previews_and_sees_the_card(user, make_connection, microsoft):
    own = make_connection(owner=user, **good(microsoft))
    browser = signed_in(user)
    assert 'id="preview"' in browser.get(f"/connections/{own.pk}/").content.decode()
    assert len(preview_table(preview(browser, own)).rows) == 2


def test_an_organization_administrator_previews_anothers_connection(org_admin, user, make_connection, microsoft):
    theirs = make_connection(owner=user, scope="private", **good(microsoft))
    assert len(preview_table(preview(signed_in(org_admin), theirs)).rows) == 2


def test_it_refuses_a_user_who_may_see_but_not_manage_the_connection(user, make_connection, microsoft):
    shared = make_connection(scope="organization", **good(microsoft))
    browser = signed_in(user)
    assert 'id="preview"' not in browser.get(f"/connections/{shared.pk}/").content.decode()
    microsoft.sim.clear_requests()
    assert preview(browser, shared).status_code == 403
    assert microsoft.sim.requests == [] and not AuditEvent.objects.filter(action=Action.DATA_PREVIEWED).exists()


def test_a_private_connection_of_another_does_not_exist_for_a_user(user, make_connection, microsoft):
    private = make_connection(scope="private", **good(microsoft))
    assert preview(signed_in(user), private).status_code == 404


def test_it_sends_the_anonymous_to_sign_in(client, make_connection):
    response = preview(client, make_connection())
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_it_requires_the_csrf_token(admin_user, make_connection):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    assert preview(browser, make_connection()).status_code == 403


def test_it_is_a_post_never_a_get(admin_client, make_connection):
    assert admin_client.get(f"/connections/{make_connection().pk}/preview/?table=account").status_code == 405


@pytest.mark.no_entitlement
def test_it_needs_the_premium_connector(admin_client, make_connection, microsoft):
    connection = make_connection(**good(microsoft))
    assert 'id="preview"' not in admin_client.get(f"/connections/{connection.pk}/").content.decode()
    microsoft.sim.clear_requests()
    response = preview(admin_client, connection)
    assert response.status_code == 403 and "needs an active trial or subscription" in response.content.decode()
    assert microsoft.sim.requests == []


@pytest.mark.parametrize("typed", ["", "Account", "1account", "account;drop", "a" * 65, "account')/x"])
def test_it_rejects_a_name_that_is_no_logical_name_next_to_the_field(admin_client, make_connection, typed):
    response = preview(admin_client, make_connection(), typed)
    assert response.status_code == 400
    assert "logical name" in field_error(response, "table")


def test_it_limits_previews_per_user_and_minute(admin_client, make_connection, microsoft, settings):
    settings.PREVIEW_RATE_PER_USER = 2
    connection = make_connection(**good(microsoft))
    assert [preview(admin_client, connection).status_code for _ in range(2)] == [200, 200]
    refused = preview(admin_client, connection)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "more than 2 previews in the last minute" in text_of(refused, "preview-refused")
    assert AuditEvent.objects.filter(action=Action.DATA_PREVIEWED).count() == 2


def test_the_answer_is_never_stored(admin_client, make_connection, microsoft):
    response = preview(admin_client, make_connection(**good(microsoft)))
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
