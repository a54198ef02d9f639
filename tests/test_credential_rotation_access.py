"""Who may rotate a connection's credential: its owner and administrators; anyone else changes nothing. Every
step is a POST with a CSRF token, and the page never shows a secret back."""

import pytest
from django.test import Client

from audit.models import AuditEvent
from connections.credential_slots import CredentialSlot, SlotRole
from tests.test_connection_test import good
from tests.test_credential_rotation import add_secret, new_credential_test, url

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
STEPS = ("new", "new/test", "new/promote", "new/discard", "previous/discard")


@pytest.fixture
def shared(make_connection, microsoft, admin_client):
    """The administrator's Organization connection, with a new secret TESTed and ready to promote."""
    connection = make_connection(**good(microsoft), scope="organization")
    new_secret = microsoft.sim.add_secret(microsoft.app.client_id)
    add_secret(admin_client, connection, new_secret.value)
    assert new_credential_test(admin_client, connection)["ok"] is True
    return connection


def unchanged(connection, microsoft) -> bool:
    connection.refresh_from_db()
    slots = list(CredentialSlot.objects.values_list("role", flat=True))
    return connection.get_client_secret() == microsoft.secret.value and slots == [SlotRole.NEW]


def test_a_user_who_does_not_own_an_organization_connection_changes_nothing(clients, shared, microsoft):
    events = AuditEvent.objects.count()
    for step in STEPS:
        response = clients["user"].post(url(shared, step), {"client_secret": "Us3r~typed-this-secret-1234567890"})
        assert response.status_code == 403, step
    assert unchanged(shared, microsoft) and AuditEvent.objects.count() == events
    page = clients["user"].get(shared.get_absolute_url()).content.decode()
    assert 'id="credentials-panel"' in page  # the facts, without a button
    assert "/credentials/" not in page


def test_others_private_connections_do_not_exist_for_a_user(clients, make_connection, microsoft):
    private = make_connection(**good(microsoft), scope="private")
    for step in STEPS:
        assert clients["user"].post(url(private, step)).status_code == 404, step
    assert not CredentialSlot.objects.exists()


def test_it_requires_a_signed_in_user(clients, shared, microsoft):
    for step in STEPS:
        response = clients["anonymous"].post(url(shared, step))
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), step
    assert unchanged(shared, microsoft)


def test_the_owner_and_an_organization_administrator_may_rotate(user, org_admin, make_connection, microsoft):
    own = make_connection(**good(microsoft), owner=user)
    for person, value in (
        (user, "0wn~the-owner-s-new-secret-12345678901"),
        (org_admin, "0rg~the-admin-s-secret-1234567890"),
    ):
        browser = Client()
        browser.force_login(person)
        assert add_secret(browser, own, value).status_code == 302
        assert CredentialSlot.objects.get(connection=own).get_credential() == value


def test_each_step_requires_a_csrf_token(admin_user, shared, microsoft):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    for step in STEPS:
        assert browser.post(url(shared, step)).status_code == 403, step
    assert unchanged(shared, microsoft)


def test_each_step_is_a_post(admin_client, shared):
    for step in STEPS:
        assert admin_client.get(url(shared, step)).status_code == 405, step


def test_the_page_never_shows_a_secret_back(admin_client, shared, microsoft, all_logs):
    typed = "Ty9~typed-on-the-panel-and-refused-123456"
    refused = admin_client.post(url(shared, "new"), {"client_secret": microsoft.secret.value})
    add_secret(admin_client, shared, typed)
    page = admin_client.get(shared.get_absolute_url()).content.decode()

    assert refused.status_code == 400
    for text in (refused.content.decode(), page):
        assert microsoft.secret.value not in text and typed not in text
        assert "Stored (encrypted; never shown)" in text
    logged = " ".join(record.getMessage() for record in all_logs)
    assert microsoft.secret.value not in logged and typed not in logged


@pytest.mark.no_entitlement
def test_without_a_trial_or_subscription_it_adds_and_tests_nothing(admin_client, make_connection, microsoft):
    connection = make_connection(**good(microsoft))
    assert add_secret(admin_client, connection, "N0~no-subscription-secret-1234567890").status_code == 403
    assert admin_client.post(url(connection, "new/test")).status_code == 403
    assert not CredentialSlot.objects.exists()
