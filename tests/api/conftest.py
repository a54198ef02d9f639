"""Fixtures of the API's tests: JSON clients for each role, and the body of a valid connection."""

import json

import pytest
from django.test import Client

from tests.helpers import form_data


class JsonClient(Client):
    """A test client that sends and asks for JSON, and keeps a connection's ETag for If-Match."""

    def call(self, method: str, path: str, body=None, **headers):
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
        extra.setdefault("HTTP_ACCEPT", "application/json")
        data = json.dumps(body) if body is not None else None
        return getattr(self, method.lower())(path, data=data, content_type="application/json", **extra)


def connection_body(**overrides) -> dict:
    """A valid create body (the connection form's values, as JSON)."""
    return {name: value for name, value in form_data(**overrides).items() if name not in ("creation_token", "action")}


@pytest.fixture
def api(admin_user, user, org_admin) -> dict:
    """A JSON client per role: anonymous, user (a plain signed-in user), other (another plain user), org_admin
    (an organization administrator) and admin (a superuser)."""
    from django.contrib.auth import get_user_model

    other = get_user_model().objects.create_user("pavel", "pavel@example.com", "yet another long passphrase 99")
    clients = {"anonymous": JsonClient()}
    for role, person in (("user", user), ("other", other), ("org_admin", org_admin), ("admin", admin_user)):
        clients[role] = JsonClient()
        clients[role].force_login(person)
    return clients
