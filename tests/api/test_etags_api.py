"""Concurrent updates cannot lose each other's changes: ETag on every read, If-Match on every change."""

import pytest

from connections.models import Connection
from tests.api.conftest import JsonClient

pytestmark = pytest.mark.django_db


def test_the_second_of_two_clients_gets_412_and_nothing_is_lost(admin_user, org_admin, make_connection):
    connection = make_connection(name="Original")
    path = f"/api/v1/connections/{connection.pk}/"
    first, second = JsonClient(), JsonClient()
    first.force_login(admin_user)
    second.force_login(org_admin)
    first_tag, second_tag = first.call("GET", path)["ETag"], second.call("GET", path)["ETag"]
    assert first_tag == second_tag
    assert first.call("PATCH", path, {"name": "First's name"}, if_match=first_tag).status_code == 200
    refused = second.call("PATCH", path, {"azure_tenant": "fabrikam.onmicrosoft.com"}, if_match=second_tag)
    assert refused.status_code == 412
    assert second.call("DELETE", path, if_match=second_tag).status_code == 412
    saved = Connection.objects.get(pk=connection.pk)
    assert saved.name == "First's name" and saved.azure_tenant == connection.azure_tenant
    fresh = second.call("GET", path)["ETag"]
    assert second.call("PATCH", path, {"azure_tenant": "fabrikam.onmicrosoft.com"}, if_match=fresh).status_code == 200
    saved.refresh_from_db()
    assert saved.name == "First's name" and saved.azure_tenant == "fabrikam.onmicrosoft.com"


def test_a_test_s_outcome_does_not_change_the_etag(api, make_connection):
    connection = make_connection()
    path = f"/api/v1/connections/{connection.pk}/"
    before = api["admin"].call("GET", path)["ETag"]
    Connection.objects.filter(pk=connection.pk).update(health="up", last_test_status="available")
    assert api["admin"].call("GET", path)["ETag"] == before


def test_a_new_secret_changes_the_etag(api, make_connection):
    connection = make_connection()
    path = f"/api/v1/connections/{connection.pk}/"
    tag = api["admin"].call("GET", path)["ETag"]
    changed = api["admin"].call("PATCH", path, {"client_secret": "Aa1~another-secret-value-0123456789"}, if_match=tag)
    assert changed.status_code == 200 and changed["ETag"] != tag
    assert api["admin"].call("GET", path)["ETag"] == changed["ETag"]


def test_if_match_star_and_lists_are_understood(api, make_connection):
    connection = make_connection()
    path = f"/api/v1/connections/{connection.pk}/"
    tag = api["admin"].call("GET", path)["ETag"]
    assert api["admin"].call("PATCH", path, {"name": "Listed"}, if_match=f'"other", {tag}').status_code == 200
    assert api["admin"].call("PATCH", path, {"name": "Star"}, if_match="*").status_code == 200
