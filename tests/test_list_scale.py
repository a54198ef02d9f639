"""The Connections page at scale: its queries do not grow with the rows or their TEST histories, and every sort is
read from an index (bench/list_scale.py measures the times with 100,000 connections)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections.models import Connection
from connections.runs import RunSource, RunState, TestRun
from connections.views import SORTS

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

LIST_URL = reverse("connections:list")
PAGES = [
    {},
    *({"sort": key} for key in SORTS),
    *({"sort": f"-{key}"} for key in SORTS),
    {"q": "contoso"},
    {"q": "contoso", "sort": "-tested"},
    {"page": "2"},
]
SORT_INDEXES = {
    "connections_connection": [
        "connection_sort_name",
        "connection_sort_name_desc",
        "connection_sort_version",
        "connection_sort_version_desc",
        "connection_sort_url",
        "connection_sort_url_desc",
        "connection_sort_tenant",
        "connection_sort_tenant_desc",
        "connection_sort_tested",
        "connection_sort_tested_desc",
        "connection_visibility",
    ],
    "auth_user": ["connection_sort_owner"],
}
SEARCH_INDEXES = ["connection_search_name", "connection_search_url", "connection_search_tenant"]
# The page's queries: the session, the user, the count, the connector and its subscription, the rows (their
# sparklines' last TESTs a column of the same query) and the unread notifications; for a plain user, the two of
# their permissions (an organization administrator?); for a search, one more (the owners whose name matches). The
# same as before the sparklines.
QUERIES = {"admin": 7, "user": 9}


def history(connection, length: int) -> None:
    """`length` finished TESTs of the saved settings, every third failed, and an Edit form TEST between each."""
    runs = []
    for number in range(length):
        when = datetime(2026, 5, 1, tzinfo=UTC) + timedelta(hours=number)
        for source in (RunSource.LIST, RunSource.FORM):
            result = {"ok": number % 3 != 0, "step": "", "code": "", "elapsed": 0.5 + number % 4}
            runs.append(
                TestRun(
                    connection=connection,
                    source=source,
                    state=RunState.FINISHED,
                    lock_key=f"connection:{connection.pk}",
                    crm_version=connection.crm_version,
                    auth_scheme=connection.auth_scheme,
                    result=result,
                    created_at=when + timedelta(minutes=30 * (source == RunSource.FORM)),
                    deadline=when,
                    finished_at=when,
                )
            )
    TestRun.objects.bulk_create(runs)


@pytest.fixture
def add_rows(make_connection, user, settings):
    """Add `count` connections: a mix of owners (the plain user among them), scopes, versions and TESTs, with
    histories of no TEST, one, and more than the sparkline draws."""
    made = []

    def add(count: int) -> None:
        for _ in range(count):
            number = len(made)
            owner = user if number % 3 == 0 else get_user_model().objects.create_user(f"Owner{number:03}")
            connection = make_connection(
                name=f"Contoso {number:03}",
                crm_version="CRM2011+" if number % 4 == 0 else "CRMOnline",
                owner=owner,
                scope="organization" if number % 5 == 0 else "private",
            )
            if number % 2:
                tested = datetime(2026, 5, 1 + number % 28, tzinfo=UTC)
                Connection.objects.filter(pk=connection.pk).update(last_test_status="available", last_tested_at=tested)
            history(connection, (0, 1, settings.LIST_SPARKLINE_TESTS + 5)[(number + number // 3) % 3])
            made.append(connection)

    return add


def queries_of(client, query: dict) -> list[str]:
    caches["process"].clear()  # every request reads the connector's state, as the first in a second does
    with CaptureQueriesContext(connection) as captured:
        assert client.get(LIST_URL, query).status_code == 200
    return [entry["sql"] for entry in captured.captured_queries]


@pytest.mark.parametrize("role", ["admin", "user"])
def test_it_runs_the_same_queries_for_3_or_60_rows_on_every_sort_search_and_page(clients, add_rows, role):
    add_rows(3)
    caches["process"].clear()  # both passes read the connector's state first (the pages keep it for a second)
    few = {str(query): len(queries_of(clients[role], query)) for query in PAGES}
    add_rows(57)
    caches["process"].clear()
    many = {str(query): len(queries_of(clients[role], query)) for query in PAGES}
    assert few == {str(query): QUERIES[role] + ("q" in query) for query in PAGES}
    assert many == few


@pytest.mark.parametrize(("table", "name"), [(table, name) for table, names in SORT_INDEXES.items() for name in names])
@pytest.mark.django_db
def test_the_migrations_make_the_indexes_of_the_list(table, name):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    assert constraints[name]["index"]


def page_query(client, query: dict) -> str:
    """The page's SELECT of its rows (the one with ORDER BY; the other is the paginator's COUNT)."""
    return next(sql for sql in queries_of(client, query) if "connections_connection" in sql and "ORDER BY" in sql)


def plan_of(sql: str) -> str:
    with connection.cursor() as cursor:
        # Sorting every row made as costly as it can be: the plan sorts only if no index gives the order.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


# PostgreSQL only: SQLite plans a few rows without statistics as it likes, and cannot match the URL sort's index
# (Django binds the Replace's strings as parameters); bench/list_scale.py reports what SQLite does with 100,000.
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plans of PostgreSQL")
@pytest.mark.parametrize("query", [query for query in PAGES if "sort" in query and "q" not in query], ids=str)
def test_every_sort_is_read_from_an_index(admin_client, add_rows, query):
    add_rows(3)
    plan = plan_of(page_query(admin_client, query))
    # An Incremental Sort orders a run of equal keys (one owner's rows) by pk; the index gave the rest.
    nodes = [line.strip().removeprefix("->").strip().split("  (")[0] for line in plan.splitlines()]
    assert "Sort" not in nodes, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plans of PostgreSQL")
def test_the_sparklines_last_tests_are_read_from_the_history_index(admin_client, add_rows):
    add_rows(3)
    sql = next(sql for sql in queries_of(admin_client, {}) if "connections_testrun r" in sql)
    with connection.cursor() as cursor:
        # Reading every TEST made as costly as it can be: the plan reads the table only if no index serves it.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # Each row's newest TESTs from testrun_history (connection, -created_at), N of them at most.
    assert "testrun_history" in plan, plan
    assert "Seq Scan on connections_testrun" not in plan, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm's indexes are PostgreSQL's")
@pytest.mark.parametrize("name", SEARCH_INDEXES)
@pytest.mark.django_db
def test_the_migrations_make_the_search_s_trigram_indexes_on_postgresql(name):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "connections_connection")
    assert constraints[name]["type"] == "gin"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plans of PostgreSQL")
def test_the_search_is_read_from_the_trigram_indexes(admin_client, add_rows):
    add_rows(3)
    count = next(sql for sql in queries_of(admin_client, {"q": "contoso"}) if sql.startswith("SELECT COUNT(*)"))
    with connection.cursor() as cursor:
        # Reading every row made as costly as it can be: the plan reads the table only if no index serves the search.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {count}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for name in SEARCH_INDEXES:
        assert name in plan, plan
