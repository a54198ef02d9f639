"""The connection page's last 30 days: availability and time taken as inline SVG with a text alternative, and the
latest TESTs as a table, in the same number of queries however long the history."""

import datetime as dt
import re

import pytest
from django.core.cache import caches
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections.runs import RunSource, RunState, TestRun

FAILED_STEPS = [
    {"key": "outbound", "label": "Outbound check", "status": "ok", "elapsed": 0.01, "detail": ""},
    {"key": "token", "label": "Token from Entra ID", "status": "failed", "elapsed": 0.4, "detail": ""},
]


@pytest.fixture
def make_run(admin_user):
    def make(connection, *, ok=True, days_ago=0, elapsed=1.25, source=RunSource.PAGE, by=admin_user) -> TestRun:
        when = timezone.now() - dt.timedelta(days=days_ago, minutes=1)
        result = {"ok": ok, "step": "" if ok else "token", "code": "" if ok else "invalid_client", "elapsed": elapsed}
        return TestRun.objects.create(
            connection=connection,
            started_by=by,
            source=source,
            state=RunState.FINISHED,
            lock_key=f"connection:{connection.pk}",
            crm_version="CRMOnline",
            auth_scheme="AzureServicePrincipal",
            steps=[] if ok else FAILED_STEPS,
            result=result,
            created_at=when,
            deadline=when,
            finished_at=when,
        )

    return make


def page(client, connection) -> str:
    caches["process"].clear()
    response = client.get(f"/connections/{connection.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def cells(row: str) -> list[str]:
    """A table row's cells as the admin reads them."""
    texts = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", text).split()) for text in texts]


def test_it_shows_availability_and_time_taken_over_the_last_30_days(admin_client, make_connection, make_run):
    connection = make_connection()
    for days_ago in (0, 1, 2):
        make_run(connection, days_ago=days_ago, elapsed=1.0)
    make_run(connection, ok=False, days_ago=1, elapsed=3.0)
    make_run(connection, ok=False, days_ago=31)  # older than the chart: not counted
    content = page(admin_client, connection)
    assert "75% available</strong> (3 of 4 TESTs good)" in content
    assert "Last 30 days: 75% available (3 of 4 TESTs good); median time taken 1.00 s." in content  # the <desc>
    assert content.count('class="history-day ') == 30
    assert content.count('<rect class="history-bar" x=') == 3
    assert "1 of 2 good, 2.00 s on average" in content and "history-mixed" in content


def test_the_chart_is_an_image_with_a_text_alternative_and_no_style_attribute(admin_client, make_connection, make_run):
    connection = make_connection()
    make_run(connection)
    content = page(admin_client, connection)
    svg = re.search(r"<svg class=\"history-chart\".*?</svg>", content, re.S).group(0)
    assert 'role="img"' in svg and 'aria-labelledby="history-chart-title history-chart-desc"' in svg
    assert '<desc id="history-chart-desc">' in svg
    assert "style=" not in content and "<script>" not in content


def test_it_lists_the_latest_tests_with_who_started_them_and_where_they_failed(admin_client, make_connection, make_run):
    connection = make_connection()
    make_run(connection, days_ago=1, elapsed=0.84)
    make_run(connection, ok=False, source=RunSource.COMMAND, by=None, elapsed=0.41)
    table = page(admin_client, connection).split('id="latest-tests"')[1].split("</table>")[0]
    newest, older = [cells(row) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    assert newest[1:] == ["Command line", "Unavailable", "Token from Entra ID", "invalid_client", "0.41 s"]
    assert older[1:] == ["admin (Connection page)", "Available", "–", "–", "0.84 s"]


def test_a_connection_never_tested_says_so(admin_client, make_connection):
    content = page(admin_client, make_connection())
    assert "No TEST in the last 30 days." in content and "Never tested: each TEST" in content


def test_it_shows_only_this_connection_s_tests(admin_client, make_connection, make_run):
    connection, other = make_connection(), make_connection()
    make_run(other, ok=False)
    assert "No TEST in the last 30 days." in page(admin_client, connection)


def test_it_runs_the_same_number_of_queries_for_1_or_200_tests(
    admin_client, make_connection, make_run, django_assert_num_queries
):
    connection = make_connection()
    make_run(connection)
    with CaptureQueriesContext(db) as few:
        page(admin_client, connection)
    for number in range(199):
        make_run(connection, ok=number % 7 != 0, days_ago=number % 40, elapsed=0.5 + number % 5)
    with django_assert_num_queries(len(few.captured_queries)):
        content = page(admin_client, connection)
    assert content.count("<tr>") == 21  # the header and the latest 20


def test_the_edit_form_s_tests_are_listed_but_not_counted(admin_client, make_connection, make_run):
    # They TEST the values typed on the Edit form, which may never be saved: the chart is of the saved ones.
    connection = make_connection()
    make_run(connection)
    make_run(connection, ok=False, source=RunSource.FORM)
    content = page(admin_client, connection)
    assert "100% available</strong> (1 of 1 TESTs good)" in content
    assert content.count("(Connection form)") == 1


def test_a_test_from_the_page_brings_the_history_up_to_date(admin_client, make_connection, microsoft):
    from tests.test_connection_test import good

    values = good(microsoft)
    connection = make_connection(
        client_id=values["client_id"],
        azure_tenant=values["azure_tenant"],
        url=values["url"],
        client_secret=values["client_secret"],
    )
    answer = admin_client.post(
        f"/connections/{connection.pk}/test/", {"source": "page"}, HTTP_ACCEPT="application/json"
    ).json()
    assert answer["ok"] is True
    assert "100% available</strong> (1 of 1 TESTs good)" in answer["history_html"]
    assert 'admin <span class="text-body-secondary">(Connection page)</span>' in answer["history_html"]
