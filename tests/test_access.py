"""Every URL of the project, for every role: anonymous, signed-in user, administrator.

The URL resolver is enumerated, so a new view without a line in EXPECTED fails this test.
"""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from connections.models import Connection

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
OK, REDIRECT, SEE_OTHER, BAD, FORBIDDEN, MISSING, NOT_ALLOWED = 200, 302, 303, 400, 403, 404, 405
ACCEPTED, UNAUTHORIZED, UNSUPPORTED = 202, 401, 415

# name: (method, {role: expected status}); "anonymous" always means: sent to the login page, unless given.
# The user is a plain signed-in user; the connection is the administrator's Private one.
EXPECTED = {
    "home": ("GET", {"user": REDIRECT, "admin": REDIRECT}),
    "login": ("GET", {"anonymous": OK, "user": REDIRECT, "admin": REDIRECT}),
    "logout": ("POST", {"anonymous": REDIRECT, "user": REDIRECT, "admin": REDIRECT}),
    "connections:list": ("GET", {"user": OK, "admin": OK}),
    "connections:create": ("GET", {"user": OK, "admin": OK}),
    "connections:detail": ("GET", {"user": MISSING, "admin": OK}),
    "connections:edit": ("GET", {"user": MISSING, "admin": OK}),
    "connections:delete": ("GET", {"user": MISSING, "admin": OK}),
    "connections:test": ("POST", {"user": MISSING, "admin": REDIRECT}),
    "connections:sign_in": ("POST", {"user": MISSING, "admin": MISSING}),  # not an AzureAD connection
    "connections:sign_out": ("POST", {"user": MISSING, "admin": REDIRECT}),
    # Preview (tests/test_table_preview.py): an empty table name is 400.
    "connections:preview": ("POST", {"user": MISSING, "admin": BAD}),
    # Rotation (tests/test_credential_rotation*.py): an empty "Add" is 400; nothing to TEST, promote or discard.
    "connections:add_credential": ("POST", {"user": MISSING, "admin": BAD}),
    "connections:test_new_credential": ("POST", {"user": MISSING, "admin": REDIRECT}),
    "connections:promote_credential": ("POST", {"user": MISSING, "admin": REDIRECT}),
    "connections:discard_credential": ("POST", {"user": MISSING, "admin": REDIRECT}),
    # A TEST exists for the user who started it only (tests/test_background.py): an unknown id is 404 for all.
    "connections:test_run": ("GET", {"user": MISSING, "admin": MISSING}),
    # Check access (tests/test_check_access.py): as TEST; the connection was never TESTed, so the admin is sent back
    # to its page with "TEST first"; an unknown check is 404 for all.
    "connections:check_access": ("POST", {"user": MISSING, "admin": SEE_OTHER}),
    "connections:access_check": ("GET", {"user": MISSING, "admin": MISSING}),
    "connections:oauth_callback": ("GET", {"user": BAD, "admin": BAD}),
    "audit:trail": ("GET", {"user": FORBIDDEN, "admin": OK}),
    # Each user's own API tokens (tests/test_api_token_page.py); token 1 does not exist, or is not theirs: 404.
    "api_tokens:list": ("GET", {"user": OK, "admin": OK}),
    "api_tokens:revoke": ("POST", {"user": MISSING, "admin": MISSING}),
    "marketplace:index": ("GET", {"user": OK, "admin": OK}),
    "marketplace:notifications": ("GET", {"user": OK, "admin": OK}),
    "marketplace:notifications_read_all": ("POST", {"user": REDIRECT, "admin": REDIRECT}),
    "marketplace:notification_read": ("POST", {"user": MISSING, "admin": MISSING}),
    "marketplace:start_trial": ("GET", {"user": FORBIDDEN, "admin": REDIRECT}),  # subscribed: no trial
    "marketplace:subscribe": ("GET", {"user": FORBIDDEN, "admin": REDIRECT}),  # already subscribed
    "marketplace:unsubscribe": ("GET", {"user": FORBIDDEN, "admin": OK}),
    "marketplace:notify_users": ("GET", {"user": FORBIDDEN, "admin": OK}),
    "marketplace:request_access": ("POST", {"user": REDIRECT, "admin": REDIRECT}),
    # The OpenID Connect issuer's documents are public: no sign-in for anyone. SITE_URL is unset here, so they answer
    # 404 "issuer not configured" (tests/test_federation_issuer.py: 200 for anyone once it is set).
    "federation:openid_configuration": ("GET", {"anonymous": MISSING, "user": MISSING, "admin": MISSING}),
    "federation:jwks": ("GET", {"anonymous": MISSING, "user": MISSING, "admin": MISSING}),
    # The REST API (tests/api/): anonymous is 401 (a problem, never the login page); the schema and its docs are public.
    # A TEST of the admin's connection starts (202); POST /tests/ with no JSON body is 415; no check, no such run: 404.
    "api:schema": ("GET", {"anonymous": OK, "user": OK, "admin": OK}),
    "api:docs": ("GET", {"anonymous": OK, "user": OK, "admin": OK}),
    "api:connections": ("GET", {"anonymous": UNAUTHORIZED, "user": OK, "admin": OK}),
    "api:connection": ("GET", {"anonymous": UNAUTHORIZED, "user": MISSING, "admin": OK}),
    "api:connection_tests": ("POST", {"anonymous": UNAUTHORIZED, "user": MISSING, "admin": ACCEPTED}),
    "api:history": ("GET", {"anonymous": UNAUTHORIZED, "user": MISSING, "admin": OK}),
    "api:access_check": ("GET", {"anonymous": UNAUTHORIZED, "user": MISSING, "admin": MISSING}),
    "api:tests": ("POST", {"anonymous": UNAUTHORIZED, "user": UNSUPPORTED, "admin": UNSUPPORTED}),
    "api:test_run": ("GET", {"anonymous": UNAUTHORIZED, "user": MISSING, "admin": MISSING}),
}
ARGUMENTS = {
    "pk": "connection",
    "slug": "dynamics-crm",
    "object_id": "connection",
    "app_label": "connections",
    "run_id": "00000000-0000-4000-8000-000000000000",
    "check_id": "00000000-0000-4000-8000-000000000000",
    "role": "new",
}


def all_url_names(resolver=None, namespace=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from all_url_names(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry


def path_for(name: str, pattern: URLPattern, connection: Connection) -> str:
    kwargs = {}
    for argument in pattern.pattern.regex.groupindex:
        value = ARGUMENTS.get(argument, "1")
        kwargs[argument] = connection.pk if value == "connection" else value
    return reverse(name, kwargs=kwargs)


def every_project_response(browser: Client, connection: Connection):
    """(name, response) for every project URL but the admin's, requested with the method EXPECTED gives."""
    for name, pattern in all_url_names():
        if not name.startswith("admin:"):
            method, _ = EXPECTED[name]
            yield name, getattr(browser, method.lower())(path_for(name, pattern, connection))


def admin_pages(connection: Connection) -> tuple[str, ...]:
    return (
        "/admin/",
        "/admin/connections/connection/",
        "/admin/connections/connection/add/",
        f"/admin/connections/connection/{connection.pk}/change/",
        "/admin/audit/auditevent/",
        "/admin/marketplace/connector/",
        "/admin/federation/signingkey/",
        "/admin/api_tokens/apitoken/",
    )


def test_every_project_url_is_in_the_table():
    names = {name for name, _ in all_url_names() if not name.startswith("admin:")}
    assert names - set(EXPECTED) == set(), "new URLs need their expected access in EXPECTED"
    assert set(EXPECTED) - names == set(), "EXPECTED lists URLs that no longer exist"


@pytest.mark.parametrize("role", ["anonymous", "user", "admin"])
def test_every_url_answers_each_role_as_expected(role, clients, make_connection):
    connection = make_connection(name="Admin's private", scope="private")
    checked = 0
    for name, response in every_project_response(clients[role], connection):
        expected = EXPECTED[name][1]
        if role == "anonymous" and "anonymous" not in expected:
            assert response.status_code == REDIRECT, (name, response.status_code)
            assert response["Location"].startswith(LOGIN), (name, response["Location"])
        else:
            assert response.status_code == expected[role], (name, response.request["PATH_INFO"], response.status_code)
        checked += 1
    assert checked == len(EXPECTED)


@pytest.mark.parametrize("role", ["anonymous", "user"])
def test_the_admin_site_is_for_staff_only(role, clients, make_connection):
    connection = make_connection()
    for path in (
        "/admin/",
        "/admin/connections/connection/",
        f"/admin/connections/connection/{connection.pk}/change/",
        "/admin/audit/auditevent/",
    ):
        response = clients[role].get(path)
        assert response.status_code == REDIRECT, path
        assert response["Location"].startswith(("/admin/login/", LOGIN)), path


def test_administrators_reach_every_admin_page(clients, make_connection):
    for path in admin_pages(make_connection()):
        assert clients["admin"].get(path).status_code == OK, path


def test_organization_connections_are_usable_but_not_changeable_by_others(clients, make_connection):
    shared = make_connection(name="Shared", scope="organization")
    user = clients["user"]
    assert user.get(f"/connections/{shared.pk}/").status_code == OK
    assert "Shared" in user.get("/connections/").content.decode()
    assert user.post(f"/connections/{shared.pk}/test/").status_code == REDIRECT
    for path in (f"/connections/{shared.pk}/edit/", f"/connections/{shared.pk}/delete/"):
        assert user.get(path).status_code == FORBIDDEN
        assert user.post(path).status_code == FORBIDDEN
    assert user.post(f"/connections/{shared.pk}/sign-out/").status_code == FORBIDDEN
    page = user.get(f"/connections/{shared.pk}/").content.decode()
    assert f"/connections/{shared.pk}/edit/" not in page and f"/connections/{shared.pk}/delete/" not in page
    assert Connection.objects.filter(pk=shared.pk).exists()


def test_private_connections_of_others_do_not_exist_for_a_user(clients, make_connection):
    private = make_connection(name="Secret project", scope="private")
    user = clients["user"]
    assert "Secret project" not in user.get("/connections/").content.decode()
    assert "Secret project" not in user.get("/connections/?q=Secret").content.decode()
    assert user.get(f"/connections/{private.pk}/").status_code == MISSING


def test_a_user_manages_their_own_private_connection_and_the_administrator_sees_it(clients, user, make_connection):
    own = make_connection(name="Mine", owner=user, scope="private")
    assert clients["user"].get(f"/connections/{own.pk}/edit/").status_code == OK
    assert clients["admin"].get(f"/connections/{own.pk}/edit/").status_code == OK
    assert "Mine" in clients["admin"].get("/connections/").content.decode()


# Without a trial or subscription: creating, editing, TESTing and signing in are refused with the gate's page
# (after the access rules: others' private connections still do not exist for a user); the marketplace offers
# START TRIAL and SUBSCRIBE to administrators; everything else answers as above.
WITHOUT_ENTITLEMENT = {
    "connections:create": {"user": FORBIDDEN, "admin": FORBIDDEN},
    "connections:edit": {"user": FORBIDDEN, "admin": FORBIDDEN},
    "connections:test": {"user": MISSING, "admin": FORBIDDEN},
    "connections:sign_in": {"user": FORBIDDEN, "admin": FORBIDDEN},
    "connections:preview": {"user": MISSING, "admin": FORBIDDEN},
    "connections:add_credential": {"user": FORBIDDEN, "admin": FORBIDDEN},
    "connections:test_new_credential": {"user": MISSING, "admin": FORBIDDEN},
    "connections:check_access": {"user": MISSING, "admin": FORBIDDEN},
    "connections:promote_credential": {"user": FORBIDDEN, "admin": FORBIDDEN},
    "api:connection_tests": {"user": MISSING, "admin": FORBIDDEN},
    "marketplace:start_trial": {"user": FORBIDDEN, "admin": OK},
    "marketplace:subscribe": {"user": FORBIDDEN, "admin": OK},
    "marketplace:unsubscribe": {"user": FORBIDDEN, "admin": REDIRECT},
    "marketplace:notify_users": {"user": FORBIDDEN, "admin": REDIRECT},
}


@pytest.mark.no_entitlement
@pytest.mark.parametrize("role", ["user", "admin"])
def test_every_url_answers_each_role_as_expected_without_a_trial_or_subscription(role, clients, make_connection):
    connection = make_connection(name="Admin's private", scope="private")
    answered = {}
    for name, pattern in all_url_names():
        if name.startswith("admin:"):
            continue
        method, expected = EXPECTED[name]
        response = getattr(clients[role], method.lower())(path_for(name, pattern, connection))
        answered[name] = (response.status_code, WITHOUT_ENTITLEMENT.get(name, expected)[role])
        if response.status_code == FORBIDDEN and name.startswith("connections:"):
            assert "needs an active trial or subscription" in response.content.decode(), name
    assert {name: got for name, (got, _) in answered.items()} == {name: want for name, (_, want) in answered.items()}
