"""The Connections page: columns, search, sort, pages, links, delete, and sign-in for every page."""

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections import list_search
from connections.models import Connection

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

LIST_URL = reverse("connections:list")


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def rows(response) -> list[list[str]]:
    """The table's rows as the user reads them: one list of cell texts per connection."""
    body = re.search(r"<tbody>(.*?)</tbody>", response.content.decode(), re.S)
    if body is None:
        return []
    return [
        [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


def names(response) -> list[str]:
    return [row[0] for row in rows(response)]


def person(username: str):
    return get_user_model().objects.create_user(username)


def mark_tested(connection, status: str, when: datetime) -> None:
    Connection.objects.filter(pk=connection.pk).update(last_test_status=status, last_tested_at=when)


def test_it_shows_the_columns_of_each_connection(admin_client, make_connection, user):
    online = make_connection(name="Contoso Sales", azure_tenant="contoso.onmicrosoft.com")
    onprem = make_connection(
        name="On-prem CRM",
        crm_version="CRM2011+",
        url="http://crm.contoso.local/Sales/",
        azure_tenant="72f988bf-86f1-41af-91ab-2d7cd011db47",
        owner=user,
    )
    make_connection(name="Untested")
    mark_tested(online, "available", datetime(2026, 5, 1, 10, 30, tzinfo=UTC))
    mark_tested(onprem, "unavailable", datetime(2026, 5, 2, 11, 45, tzinfo=UTC))

    response = admin_client.get(LIST_URL)
    page = response.content.decode()
    headers = [text_of(th).rstrip(" ▲▼") for th in re.findall(r"<th[^>]*>(.*?)</th>", page, re.S)]
    assert headers[:6] == ["Name", "CRM Version", "URL host", "AzureTenant", "Owner", "Last TEST"]
    table = [row[:6] for row in rows(response)]
    assert table == [
        ["Contoso Sales", "CRMOnline", "contoso.crm.dynamics.com", "contoso.onmicrosoft.com", "admin",
         "Available 2026-05-01 10:30 UTC"],
        ["On-prem CRM", "CRM2011+", "crm.contoso.local", "72f988bf-86f1-41af-91ab-2d7cd011db47", "maria",
         "Unavailable 2026-05-02 11:45 UTC"],
        ["Untested", "CRMOnline", "contoso.crm.dynamics.com", table[2][3], "admin", "Never tested"],
    ]  # fmt: skip


def test_it_says_when_there_is_no_connection_yet(admin_client):
    page = admin_client.get(LIST_URL).content.decode()
    assert "No connections yet." in page


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("sales", ["Contoso Sales"]),
        ("FABRIKAM", ["Fabrikam HR"]),
        ("crm4.dynamics", ["Fabrikam HR"]),
        ("northwind.onmicrosoft", ["Northwind"]),
        ("maria", ["Northwind"]),
        ("MARI", ["Northwind"]),
    ],
)
def test_it_finds_connections_by_name_url_tenant_or_owner(admin_client, make_connection, user, query, found):
    make_connection(name="Contoso Sales", azure_tenant="contoso.onmicrosoft.com")
    make_connection(name="Fabrikam HR", url="https://fabrikam.crm4.dynamics.com/")
    make_connection(name="Northwind", azure_tenant="northwind.onmicrosoft.com", owner=user)
    response = admin_client.get(LIST_URL, {"q": query})
    assert names(response) == found
    assert f'value="{query}"' in response.content.decode()


def test_it_finds_connections_by_owner_when_many_owners_match(admin_client, make_connection, monkeypatch):
    monkeypatch.setattr(list_search, "MAX_OWNER_IDS", 1)  # past it, the owners are looked up in a subquery
    make_connection(name="First", owner=person("sales-ana"))
    make_connection(name="Second", owner=person("SALES-bob"))
    make_connection(name="Third", owner=person("support-eve"))
    assert names(admin_client.get(LIST_URL, {"q": "Sales"})) == ["First", "Second"]


def test_it_says_when_nothing_matches_the_search(admin_client, make_connection):
    make_connection(name="Contoso Sales")
    page = admin_client.get(LIST_URL, {"q": "<b>nothing</b>"}).content.decode()
    assert "No connection matches “&lt;b&gt;nothing&lt;/b&gt;”." in page


@pytest.fixture
def three_to_sort(make_connection, admin_user):
    """Three connections whose order differs for every column (names and owners in mixed case)."""
    alpha = make_connection(
        name="alpha",
        url="https://sales.crm.dynamics.com/",
        azure_tenant="c-tenant.onmicrosoft.com",
        owner=person("maria"),
    )
    make_connection(
        name="Bravo",
        crm_version="CRM2011+",
        url="http://web.contoso.local/Org/",
        azure_tenant="a-tenant.onmicrosoft.com",
        owner=person("Zoe"),
    )
    charlie = make_connection(
        name="charlie",
        url="https://hr.crm.dynamics.com/",
        azure_tenant="b-tenant.onmicrosoft.com",
        owner=person("adam"),
    )
    mark_tested(alpha, "available", datetime(2026, 5, 2, tzinfo=UTC))
    mark_tested(charlie, "unavailable", datetime(2026, 5, 1, tzinfo=UTC))


SORTED = {
    "name": ["alpha", "Bravo", "charlie"],
    "version": ["Bravo", "alpha", "charlie"],
    "url": ["charlie", "alpha", "Bravo"],  # by host: hr, sales, web.contoso.local
    "tenant": ["Bravo", "charlie", "alpha"],
    "owner": ["charlie", "alpha", "Bravo"],  # adam, maria, Zoe
    "tested": ["Bravo", "charlie", "alpha"],  # never tested counts as oldest
}
SORTED_DESCENDING = {**{key: order[::-1] for key, order in SORTED.items()}, "version": ["alpha", "charlie", "Bravo"]}


@pytest.mark.usefixtures("three_to_sort")
@pytest.mark.parametrize("key", SORTED)
def test_it_sorts_by_each_column_both_ways(admin_client, key):
    ascending = admin_client.get(LIST_URL, {"sort": key})
    descending = admin_client.get(LIST_URL, {"sort": f"-{key}"})
    assert names(ascending) == SORTED[key]
    assert names(descending) == SORTED_DESCENDING[key]
    # The column's header link turns the order around.
    assert f'href="?q=&amp;sort=-{key}"' in ascending.content.decode()
    assert f'href="?q=&amp;sort={key}"' in descending.content.decode()


@pytest.mark.usefixtures("three_to_sort")
def test_it_sorts_by_name_when_the_sort_is_unknown(admin_client):
    assert names(admin_client.get(LIST_URL, {"sort": "-password"})) == SORTED["name"]


@pytest.fixture
def sixty(make_connection, admin_user):
    for number in range(1, 61):
        make_connection(name=f"Connection {number:02}", owner=person(f"owner{number:02}"))


@pytest.mark.usefixtures("sixty")
@pytest.mark.parametrize(
    ("page", "first", "last", "label"),
    [
        ("1", "Connection 01", "Connection 25", "Page 1 of 3"),
        ("2", "Connection 26", "Connection 50", "Page 2 of 3"),
        ("3", "Connection 51", "Connection 60", "Page 3 of 3"),
        ("99", "Connection 51", "Connection 60", "Page 3 of 3"),
        ("abc", "Connection 01", "Connection 25", "Page 1 of 3"),
    ],
)
def test_it_shows_25_connections_a_page(admin_client, page, first, last, label):
    response = admin_client.get(LIST_URL, {"page": page})
    content = response.content.decode()
    shown = names(response)
    assert (shown[0], shown[-1], len(shown)) == (first, last, 25 if first != "Connection 51" else 10)
    assert label in content
    assert "60 connections" in content
    assert (">Next</a>" in content) == (label != "Page 3 of 3")
    assert (">Previous</a>" in content) == (label != "Page 1 of 3")


def test_it_runs_the_same_number_of_queries_for_3_or_60_rows(admin_client, make_connection, django_assert_num_queries):
    for number in range(3):
        mark_tested(make_connection(owner=person(f"few{number}")), "available", datetime(2026, 5, 1, tzinfo=UTC))
    caches["process"].clear()  # both read the connector's state (the pages keep it for a second)
    with CaptureQueriesContext(db) as few:
        assert len(rows(admin_client.get(LIST_URL))) == 3
    for number in range(57):
        mark_tested(make_connection(owner=person(f"many{number}")), "unavailable", datetime(2026, 5, 1, tzinfo=UTC))
    caches["process"].clear()
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(rows(admin_client.get(LIST_URL))) == 25


def test_the_pages_read_the_connector_s_state_once_a_second_and_see_a_change_at_once(
    admin_client, dynamics_crm, make_connection, django_capture_on_commit_callbacks
):
    from marketplace.models import Subscription

    make_connection(name="Contoso Sales")
    with CaptureQueriesContext(db) as first:
        admin_client.get(LIST_URL)
    with CaptureQueriesContext(db) as second:
        page = admin_client.get(LIST_URL).content.decode()
    assert len(second.captured_queries) == len(first.captured_queries) - 2  # the trial and the subscriptions
    assert "TEST Contoso Sales" in page and "Disabled" not in page
    subscription = Subscription.objects.get(connector=dynamics_crm)
    subscription.cancelled_at = datetime(2001, 1, 1, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        subscription.save()  # as UNSUBSCRIBE saves it: this process's pages see it at once
    page = admin_client.get(LIST_URL).content.decode()
    assert "TEST Contoso Sales" not in page and "Disabled" in page


def test_it_links_each_row_to_open_edit_and_delete(admin_client, make_connection):
    connection = make_connection(name="Contoso Sales")
    page = admin_client.get(LIST_URL).content.decode()
    row = re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1)
    links = dict((text_of(label), href) for href, label in re.findall(r'<a[^>]*href="([^"]+)"[^>]*>(.*?)</a>', row))
    assert links == {
        "Contoso Sales": reverse("connections:detail", args=[connection.pk]),
        "Edit": reverse("connections:edit", args=[connection.pk]),
        "Delete": reverse("connections:delete", args=[connection.pk]),
    }
    for href in links.values():
        assert admin_client.get(href).status_code == 200
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_it_asks_before_deleting(admin_client, make_connection):
    connection = make_connection(name="Contoso Sales")
    response = admin_client.get(reverse("connections:delete", args=[connection.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Delete the connection “<strong>Contoso Sales</strong>”" in page
    assert re.search(r'<form method="post">.*?<button type="submit"[^>]*>Delete</button>', page, re.S)
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_it_deletes_on_post_and_says_so(admin_client, make_connection):
    connection = make_connection(name="Contoso Sales")
    kept = make_connection(name="Fabrikam")
    response = admin_client.post(reverse("connections:delete", args=[connection.pk]), follow=True)
    assert response.redirect_chain == [(LIST_URL, 302)]
    assert "The connection “Contoso Sales” was deleted." in response.content.decode()
    assert names(response) == ["Fabrikam"]
    assert list(Connection.objects.values_list("pk", flat=True)) == [kept.pk]


def test_it_answers_404_for_a_connection_that_does_not_exist(admin_client):
    for name in ("detail", "edit", "delete"):
        assert admin_client.get(reverse(f"connections:{name}", args=[987654])).status_code == 404
    assert admin_client.post(reverse("connections:delete", args=[987654])).status_code == 404


@pytest.mark.parametrize(
    ("method", "url_name", "with_pk"),
    [
        ("get", "home", False),
        ("get", "connections:list", False),
        ("get", "connections:create", False),
        ("post", "connections:create", False),
        ("get", "connections:detail", True),
        ("get", "connections:edit", True),
        ("get", "connections:delete", True),
        ("post", "connections:delete", True),
        ("post", "connections:test", True),
    ],
)
def test_it_requires_sign_in_for_every_page(client, make_connection, method, url_name, with_pk):
    connection = make_connection()
    url = reverse(url_name, args=[connection.pk] if with_pk else [])
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"
    assert Connection.objects.filter(pk=connection.pk, last_tested_at=None).exists()


def test_it_requires_sign_in_for_the_admin(client):
    response = client.get("/admin/connections/connection/")
    assert response.status_code == 302
    assert response.url.endswith("?next=/admin/connections/connection/")


def test_it_shows_the_sign_in_page_and_returns_to_the_page_asked_for(client, admin_user):
    login = reverse("login")
    assert client.get(login).status_code == 200
    response = client.post(
        f"{login}?next={LIST_URL}?q=x", {"username": "admin", "password": "correct horse battery staple 42"}
    )
    assert response.status_code == 302
    assert response.url == f"{LIST_URL}?q=x"


def test_it_refuses_a_wrong_password(client, admin_user):
    response = client.post(reverse("login"), {"username": "admin", "password": "wrong"})
    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()
    assert client.get(LIST_URL).status_code == 302


@pytest.mark.parametrize("url_name", ["connections:list", "connections:create", "connections:detail"])
def test_it_links_to_connections_and_new_connection_in_the_navigation(admin_client, make_connection, url_name):
    args = [make_connection().pk] if url_name == "connections:detail" else []
    page = admin_client.get(reverse(url_name, args=args)).content.decode()
    nav = re.search(r"<nav[^>]*>(.*?)</nav>", page, re.S).group(1)
    links = {text_of(label): href for href, label in re.findall(r'<a[^>]*href="([^"]+)"[^>]*>(.*?)</a>', nav)}
    assert links["Connections"] == LIST_URL
    assert links["New connection"] == reverse("connections:create")


def test_the_admin_lists_the_same_columns_searchable_and_filterable(admin_client, make_connection):
    make_connection(name="Contoso Sales")
    make_connection(name="On-prem CRM", crm_version="CRM2011+", url="http://crm.contoso.local/Sales/")
    url = reverse("admin:connections_connection_changelist")

    def admin_names(**query) -> list[str]:
        page = admin_client.get(url, query).content.decode()
        return re.findall(r'class="field-name"><a[^>]*>(.*?)</a>', page)

    page = admin_client.get(url).content.decode()
    headers = [text_of(th) for th in re.findall(r'<th scope="col"[^>]*>(.*?)</th>', page, re.S)]
    for column in ("Connection Name", "CRM Version", "URL host", "AzureTenant", "Owner"):
        assert column in headers
    assert "crm.contoso.local" in page
    assert admin_names() == ["Contoso Sales", "On-prem CRM"]
    assert admin_names(q="on-prem") == ["On-prem CRM"]
    assert admin_names(crm_version__exact="CRMOnline") == ["Contoso Sales"]


def test_an_action_reads_the_connector_s_state_afresh_whatever_the_pages_kept(admin_client, make_connection):
    from marketplace.models import Subscription

    connection = make_connection(name="Contoso Sales")
    assert "TEST Contoso Sales" in admin_client.get(LIST_URL).content.decode()  # the page keeps "subscribed"
    Subscription.objects.update(cancelled_at=datetime(2001, 1, 1, tzinfo=UTC))  # no signal: the kept state is stale
    assert "TEST Contoso Sales" in admin_client.get(LIST_URL).content.decode()  # (for up to a second)
    refused = admin_client.post(f"/connections/{connection.pk}/test/")
    assert refused.status_code == 403
    assert "needs an active trial or subscription" in refused.content.decode()
    assert admin_client.get(f"/connections/{connection.pk}/sign-in/").status_code == 403


def test_the_list_reads_only_what_it_shows_never_a_secret_column(admin_client, make_connection):
    make_connection(name="Contoso Sales")
    with CaptureQueriesContext(db) as captured:
        assert "Contoso Sales" in admin_client.get(LIST_URL).content.decode()
    reads = " ".join(query["sql"] for query in captured.captured_queries)
    for column in ("client_secret_encrypted", "certificate_encrypted", "token_cache_encrypted", "last_test_steps"):
        assert column not in reads
