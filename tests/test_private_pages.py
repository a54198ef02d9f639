"""After sign-out the browser keeps nothing private: every page is sent with `Cache-Control: no-store, private`
(so the back button asks the server again, which wants a sign-in), and a Permissions-Policy turns off the browser
features the app never uses. Every URL tests/test_access.py enumerates, for every role."""

import pytest
from django.test import Client

from tests.test_access import admin_pages, every_project_response

pytestmark = pytest.mark.django_db

FEATURES_OFF = {"camera", "microphone", "geolocation", "payment", "usb"}


def cache_directives(response) -> set[str]:
    return {item.strip().split("=")[0].lower() for item in response.get("Cache-Control", "").split(",")} - {""}


def features_off(response) -> set[str]:
    """The features the Permissions-Policy header allows nowhere (`camera=()`)."""
    items = [item.strip() for item in response.get("Permissions-Policy", "").split(",")]
    return {item.removesuffix("=()") for item in items if item.endswith("=()")}


def assert_private(name: str, response) -> None:
    assert {"no-store", "private"} <= cache_directives(response), (name, response.get("Cache-Control"))
    assert "public" not in cache_directives(response), name
    assert FEATURES_OFF <= features_off(response), (name, response.get("Permissions-Policy"))


@pytest.mark.parametrize("role", ["anonymous", "user", "admin"])
def test_every_page_is_never_stored_and_turns_off_unused_browser_features(role, clients, make_connection):
    connection = make_connection(name="Admin's private", scope="private")
    checked = 0
    for name, response in every_project_response(clients[role], connection):
        assert_private(name, response)
        checked += 1
    assert checked > 20


def test_the_admin_pages_are_never_stored(clients, make_connection):
    for path in admin_pages(make_connection()):
        response = clients["admin"].get(path)
        assert response.status_code == 200, path
        assert_private(path, response)


def test_the_sign_in_page_with_its_form_error_is_never_stored(user):
    response = Client().post("/accounts/login/", {"username": user.username, "password": "wrong"})
    assert response.status_code == 200
    assert_private("login", response)


def test_static_files_may_be_cached_but_turn_off_unused_browser_features(settings):
    settings.WHITENOISE_USE_FINDERS = True  # serve static/ as collectstatic would, without running it
    response = Client().get("/static/connections/app.css")
    assert response.status_code == 200
    assert "no-store" not in cache_directives(response)
    assert FEATURES_OFF <= features_off(response)
