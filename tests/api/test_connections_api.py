"""The connections resource: list, create, read, update, delete, with the pages' rules."""

import pytest

from audit.models import Action, AuditEvent
from connections.models import Connection, Health
from tests.api.conftest import connection_body
from tests.helpers import TEST_SECRET

pytestmark = pytest.mark.django_db
LIST = "/api/v1/connections/"


def detail(connection) -> str:
    return f"/api/v1/connections/{connection.pk}/"


def test_it_creates_a_connection_through_the_form_and_records_it(api, user):
    response = api["user"].call("POST", LIST, connection_body())
    assert response.status_code == 201, response.content
    data = response.json()
    connection = Connection.objects.get(pk=data["id"])
    assert connection.owner == user and connection.get_client_secret() == TEST_SECRET
    assert response["Location"].endswith(detail(connection)) and response["ETag"]
    assert data["has_client_secret"] is True and "client_secret" not in data
    assert TEST_SECRET not in response.content.decode()
    assert AuditEvent.objects.filter(action=Action.CONNECTION_CREATED, target_id=str(connection.pk)).exists()


def test_it_normalises_values_as_the_form_does(api):
    body = connection_body(client_id="{11111111-2222-3333-4444-555555555555}", url="https://contoso.crm.dynamics.com")
    data = api["user"].call("POST", LIST, body).json()
    assert data["client_id"] == "11111111-2222-3333-4444-555555555555"
    assert data["url"] == "https://contoso.crm.dynamics.com/"


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"client_secret": ""}, "client_secret", "Enter the Client Secret"),
        ({"name": "bad\nname"}, "name", "control characters"),
        ({"crm_version": "CRM1999"}, "crm_version", "valid choice"),
        ({"credential_type": "certificate"}, "certificate", "Upload the certificate"),
        ({"credential_type": "certificate", "certificate": "not base64!"}, "certificate", "base64"),
        ({"name": 42}, "name", "Must be a string"),
        ({"colour": "blue"}, "colour", "Unknown field"),
    ],
)
def test_it_rejects_what_the_form_rejects_with_its_messages_by_field(api, overrides, field, words):
    response = api["user"].call("POST", LIST, connection_body(**overrides))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400 and problem["type"].endswith("validation")
    assert any(words in message for message in problem["errors"][field]), problem


def test_it_rejects_a_name_taken_in_another_case(api, make_connection):
    make_connection(name="Contoso Sales")
    problem = api["user"].call("POST", LIST, connection_body(name="CONTOSO SALES")).json()
    assert "already exists" in problem["errors"]["name"][0]


def test_it_lists_only_what_the_user_may_see_with_filters(api, make_connection, user):
    make_connection(name="Admin private", scope="private")
    make_connection(name="Shared north", scope="organization", health=Health.UP)
    make_connection(name="Mine", owner=user, scope="private", health=Health.DOWN)
    names = lambda client, query="": [row["name"] for row in client.call("GET", LIST + query).json()["results"]]  # noqa: E731
    assert names(api["user"]) == ["Mine", "Shared north"]
    assert names(api["admin"]) == ["Admin private", "Mine", "Shared north"]
    assert names(api["admin"], "?name=NORTH") == ["Shared north"]
    assert names(api["admin"], "?state=down") == ["Mine"]
    assert names(api["admin"], "?crm_version=CRM2011%2B") == []
    assert api["admin"].call("GET", LIST + "?state=sideways").status_code == 400


def test_the_list_is_paginated(api, make_connection):
    for number in range(3):
        make_connection(name=f"Contoso {number}")
    page = api["admin"].call("GET", LIST + "?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert api["admin"].call("GET", LIST + "?page=9").status_code == 404


# Who may do what to the administrator's connection, by its scope (connections/access.py): 404 for what a user may
# not see, 403 for what they may see but not change.
ROLES = {
    "private": {"user": (404, 404), "org_admin": (200, 200), "admin": (200, 200)},
    "organization": {"user": (200, 403), "org_admin": (200, 200), "admin": (200, 200)},
}


@pytest.mark.parametrize("scope", ROLES)
@pytest.mark.parametrize("role", ["user", "org_admin", "admin"])
def test_who_may_read_and_change_a_connection(api, make_connection, scope, role):
    connection = make_connection(scope=scope)
    can_read, can_change = ROLES[scope][role]
    client = api[role]
    read = client.call("GET", detail(connection))
    assert read.status_code == can_read
    tag = read.get("ETag", '"x"')
    assert client.call("PATCH", detail(connection), {"name": "Renamed"}, if_match=tag).status_code == can_change
    deleted = client.call("DELETE", detail(connection), if_match=client.call("GET", detail(connection)).get("ETag"))
    assert deleted.status_code == (204 if can_change == 200 else can_change)


def test_an_update_keeps_the_stored_secret_and_records_what_changed(api, make_connection):
    connection = make_connection(name="Before")
    tag = api["admin"].call("GET", detail(connection))["ETag"]
    response = api["admin"].call("PATCH", detail(connection), {"name": "After", "client_secret": ""}, if_match=tag)
    assert response.status_code == 200, response.content
    connection.refresh_from_db()
    assert connection.name == "After" and connection.get_client_secret() == TEST_SECRET
    assert response["ETag"] != tag
    event = AuditEvent.objects.get(action=Action.CONNECTION_EDITED)
    assert event.detail == "name"


def test_put_replaces_every_field(api, make_connection):
    connection = make_connection(name="Before", scope="organization")
    tag = api["admin"].call("GET", detail(connection))["ETag"]
    body = connection_body(name="Whole", client_secret="")
    response = api["admin"].call("PUT", detail(connection), body, if_match=tag)
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "organization"  # the form keeps the scope when none is sent
    problem = api["admin"].call("PUT", detail(connection), {"name": "Only"}, if_match=response["ETag"]).json()
    assert {"client_id", "url"} <= set(problem["errors"])


def test_delete_records_it(api, make_connection):
    connection = make_connection()
    tag = api["admin"].call("GET", detail(connection))["ETag"]
    assert api["admin"].call("DELETE", detail(connection), if_match=tag).status_code == 204
    assert not Connection.objects.filter(pk=connection.pk).exists()
    assert AuditEvent.objects.filter(action=Action.CONNECTION_DELETED).exists()
