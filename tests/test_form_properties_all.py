"""Property: whatever a browser (or anyone) sends to any form or POST endpoint, the answer is never a 5xx.

Arbitrary text, missing and unknown fields, huge values (past the 1 MB upload limit too), non-ASCII,
control characters, more fields than Django accepts, and raw bodies that are not UTF-8, posted to the
marketplace actions, the sign-in form, the connection actions, the AzureAD callback, the admin's connection
form and the lists' search boxes. The connection form itself has its own properties (test_form_properties.py).
"""

from dataclasses import dataclass
from urllib.parse import quote, quote_from_bytes

import pytest
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from marketplace.models import Notification

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

ANY_CHARACTER = st.characters(exclude_categories=("Cs",))  # surrogates cannot be encoded at all
VALUES = st.one_of(
    st.text(ANY_CHARACTER, max_size=40),
    st.text(st.characters(max_codepoint=31), max_size=10),  # control characters only
    st.builds(lambda text, times: text * times, st.text(ANY_CHARACTER, min_size=1, max_size=3), st.integers(200, 5000)),
    st.sampled_from(
        [
            "",
            "\x00",
            "x" * (1024 * 1024 + 1),  # past DATA_UPLOAD_MAX_MEMORY_SIZE
            "<script>alert(1)</script>",
            "//evil.example.net/",
            "https://evil.example.net/",
            "javascript:alert(1)",
            "/connections/",
            "-1",
            "99999999999999999999999",
            "test",
            "save",
            "1",
        ]
    ),
)
TOO_MANY_FIELDS = {f"field{number}": "x" for number in range(1001)}  # past DATA_UPLOAD_MAX_NUMBER_FIELDS
PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
ADMIN_FIELDS = [
    "name",
    "client_id",
    "client_secret",
    "url",
    "crm_version",
    "azure_tenant",
    "azure_environment",
    "credential_type",
    "owner",
    "_save",
    "_continue",
]


@dataclass(frozen=True)
class Endpoint:
    path: str  # formatted with the pks of the world: {saved}, {delegated}, {notification}
    fields: tuple[str, ...] = ("next", "action")
    method: str = "post"
    who: str = "admin"  # or "user" (no marketplace permission), or "anonymous"


ENDPOINTS = {
    "start trial": Endpoint("/marketplace/{slug}/trial/"),
    "subscribe": Endpoint("/marketplace/{slug}/subscribe/"),
    "unsubscribe": Endpoint("/marketplace/{slug}/unsubscribe/"),
    "notify users": Endpoint("/marketplace/{slug}/notify-users/"),
    "request access": Endpoint("/marketplace/{slug}/request-access/", who="user"),
    "mark a notification read": Endpoint("/marketplace/notifications/{notification}/read/"),
    "mark all notifications read": Endpoint("/marketplace/notifications/read/"),
    "marketplace filter": Endpoint("/marketplace/", ("filter",), method="get"),
    "notifications page": Endpoint("/marketplace/notifications/", ("page",), method="get"),
    "sign in": Endpoint("/accounts/login/?next={text}", ("username", "password", "next"), who="anonymous"),
    "connections search": Endpoint("/connections/", ("q", "sort", "page"), method="get"),
    "delete a connection": Endpoint("/connections/{saved}/delete/"),
    "TEST a saved connection": Endpoint("/connections/{saved}/test/"),
    "sign in with Microsoft": Endpoint("/connections/{delegated}/sign-in/"),
    "sign out of Microsoft": Endpoint("/connections/{delegated}/sign-out/"),
    "AzureAD callback (form_post)": Endpoint(
        "/connections/oauth/callback/",
        ("code", "state", "error", "error_description", "session_state"),
        who="anonymous",
    ),
    "AzureAD callback": Endpoint("/connections/oauth/callback/", ("code", "state", "error", "answer"), method="get"),
    "admin: change a connection": Endpoint("/admin/connections/connection/{saved}/change/", tuple(ADMIN_FIELDS)),
    "admin: add a connection": Endpoint("/admin/connections/connection/add/", tuple(ADMIN_FIELDS)),
    # The marketplace admin's foreign keys use autocomplete widgets, which looked up whatever was posted.
    "admin: add a trial": Endpoint("/admin/marketplace/trial/add/", ("connector", "started_by", "started_at_0")),
    "admin: add a subscription": Endpoint(
        "/admin/marketplace/subscription/add/", ("connector", "started_by", "cancelled_by", "billing_day")
    ),
    "admin: add an access request": Endpoint("/admin/marketplace/accessrequest/add/", ("connector", "requester")),
    "admin: add a notification": Endpoint("/admin/marketplace/notification/add/", ("recipient", "text", "link")),
    "admin: connection actions": Endpoint(
        "/admin/connections/connection/", ("action", "_selected_action", "index", "select_across")
    ),
}


@st.composite
def requests_for(draw, endpoint: Endpoint) -> dict:
    """The path's free parts and a body: known fields (some missing), unknown ones, or something worse."""
    slug = draw(st.one_of(st.just("dynamics-crm"), st.from_regex(r"[-a-zA-Z0-9_]{1,60}", fullmatch=True)))
    text = quote(draw(st.text(ANY_CHARACTER, max_size=30)), safe="")
    names = st.one_of(st.sampled_from(endpoint.fields), st.text(ANY_CHARACTER, min_size=1, max_size=20))
    body = draw(
        st.one_of(
            st.dictionaries(names, VALUES, max_size=len(endpoint.fields) + 2),
            st.just(TOO_MANY_FIELDS),
            st.binary(max_size=200),  # a raw urlencoded body: any bytes, not UTF-8
        )
    )
    return {"slug": slug, "text": text, "body": body}


@pytest.fixture
def world(make_connection, admin_user, user):
    saved = make_connection(name="Contoso Sales")
    delegated = make_connection(name="Contoso Delegated", auth_scheme="AzureAD", callback_url="http://testserver/")
    notification = Notification.objects.create(recipient=admin_user, text="Dynamics CRM is available.", link="/")
    return {"saved": saved.pk, "delegated": delegated.pk, "notification": notification.pk}


def send(client: Client, endpoint: Endpoint, path: str, body):
    if endpoint.method == "get":
        query = quote_from_bytes(body, safe="=&") if isinstance(body, bytes) else body
        return client.get(f"{path}?{query}") if isinstance(body, bytes) else client.get(path, query)
    if isinstance(body, bytes):
        return client.post(path, body, content_type="application/x-www-form-urlencoded")
    return client.post(path, body)


@pytest.mark.parametrize("name", ENDPOINTS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_no_form_answers_with_a_server_error(name, data, client, admin_user, user, world):
    endpoint = ENDPOINTS[name]
    if endpoint.who != "anonymous":
        client.force_login(user if endpoint.who == "user" else admin_user)
    drawn = data.draw(requests_for(endpoint))
    path = endpoint.path.format(**world, slug=drawn["slug"], text=drawn["text"])
    response = send(client, endpoint, path, drawn["body"])
    event(f"HTTP {response.status_code}")
    assert response.status_code < 500, f"{name}: HTTP {response.status_code} for {drawn!r}"[:2000]
