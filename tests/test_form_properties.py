"""Property: whatever text lands in the connection form, the answer is a saved connection or field errors.

Posted through the real views, so the template, the form and the database all take part.
"""

import re
import uuid
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connections.models import Connection
from tests.helpers import TEST_SECRET, form_data

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

FIELDS = [
    "name",
    "client_id",
    "client_secret",
    "url",
    "crm_version",
    "azure_tenant",
    "azure_environment",
    "credential_type",
    "certificate_password",
    "creation_token",
]
# Any code point Django accepts in a form (surrogates cannot be encoded), control characters included.
ANY_CHARACTER = st.characters(exclude_categories=("Cs",))
ARBITRARY = st.one_of(
    st.text(ANY_CHARACTER, max_size=80),
    st.builds(lambda text, times: text * times, st.text(ANY_CHARACTER, min_size=1, max_size=4), st.integers(50, 3000)),
    st.sampled_from(["", " ", "\x00", "<script>alert(1)</script>", "common", "http://MySite/MyOrganization"]),
)
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def posts(draw) -> dict:
    """A valid form with any number of its fields replaced by arbitrary text."""
    data = form_data(creation_token=str(uuid.uuid4()))
    for field in draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=len(FIELDS))):
        data[field] = draw(ARBITRARY)
    return data


def shown_errors(response) -> list[str]:
    page = response.content.decode()
    return re.findall(r'id="id_(\w+)_error"', page) + re.findall(r'class="alert alert-danger"', page)


def assert_saved_as_typed(connection: Connection, data: dict) -> None:
    url = urlsplit(connection.url)
    assert connection.name == data["name"].strip()
    assert connection.get_client_secret() == data["client_secret"].strip()
    assert connection.client_id == str(uuid.UUID(connection.client_id))
    assert connection.url.endswith("/") and url.hostname == url.hostname.lower()
    assert url.scheme == "https" or connection.crm_version == "CRM2011+"
    assert not (url.query or url.fragment or url.username)


@PROPERTY_SETTINGS
@given(data=posts())
def test_it_answers_any_create_post_with_a_connection_or_field_errors(admin_client, data):
    try:
        response = admin_client.post(reverse("connections:create"), data)
        event(f"HTTP {response.status_code}")
        if response.status_code == 302:
            connection = Connection.objects.get()
            assert response.url == connection.get_absolute_url()
            assert_saved_as_typed(connection, data)
        else:
            assert response.status_code == 400
            assert shown_errors(response)
            assert not Connection.objects.exists()
    finally:
        Connection.objects.all().delete()


@PROPERTY_SETTINGS
@given(data=posts())
def test_it_answers_any_edit_post_with_the_saved_changes_or_field_errors(admin_client, make_connection, data):
    connection = make_connection(name="Contoso Sales")
    before = Connection.objects.filter(pk=connection.pk).values().get()
    try:
        response = admin_client.post(reverse("connections:edit", args=[connection.pk]), data)
        event(f"HTTP {response.status_code}")
        after = Connection.objects.get()
        if response.status_code == 302:
            assert response.url == connection.get_absolute_url()
            assert_saved_as_typed(after, {**data, "client_secret": data["client_secret"].strip() or TEST_SECRET})
        else:
            assert response.status_code == 400
            assert shown_errors(response)
            assert Connection.objects.filter(pk=connection.pk).values().get() == before
    finally:
        Connection.objects.all().delete()
