"""The Connections page's sparklines: each row's last TESTs of its saved settings, one bar each, oldest first, with
a text alternative and a title per bar; inline SVG drawn with classes (no style attribute, no script)."""

import datetime as dt
import re

import pytest
from django.core.cache import caches
from django.urls import reverse

from connections.runs import RunSource, RunState, TestRun

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

LIST_URL = reverse("connections:list")
START = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def make_run(admin_user):
    """A TEST of `connection` `hours` after START, finished unless told (a List TEST unless told)."""

    def make(connection, hours: int, *, ok=True, elapsed=1.0, source=RunSource.LIST, **fields) -> TestRun:
        when = START + dt.timedelta(hours=hours)
        result = {"ok": ok, "step": "" if ok else "token", "code": "" if ok else "invalid_client", "elapsed": elapsed}
        values = {"state": RunState.FINISHED, "result": result, "created_at": when, "finished_at": when}
        values |= {"lock_key": f"connection:{connection.pk}", **fields}
        return TestRun.objects.create(
            connection=connection,
            started_by=admin_user,
            source=source,
            crm_version=connection.crm_version,
            auth_scheme=connection.auth_scheme,
            deadline=when,
            **values,
        )

    return make


def sparkline_of(client, name: str) -> str | None:
    """The sparkline's SVG in the row of the connection named `name`, or None."""
    caches["process"].clear()
    page = client.get(LIST_URL).content.decode()
    row = next(row for row in re.findall(r"<tr>(.*?)</tr>", page, re.S) if f">{name}</a>" in row)
    found = re.search(r"<svg class=\"sparkline\".*?</svg>", row, re.S)
    return found.group(0) if found else None


def bars(svg: str) -> list[tuple[str, str]]:
    """Each bar's class and title, left to right."""
    return re.findall(r'<rect class="sparkline-(\w+)" x="[\d.]+"[^>]*><title>([^<]*)</title></rect>', svg)


def xs(svg: str) -> list[int]:
    return [int(x) for x in re.findall(r'<rect [^>]*x="(\d+)"', svg)]


def test_it_draws_the_last_10_tests_oldest_first_by_outcome_with_a_text_alternative(
    admin_client, make_connection, make_run
):
    connection = make_connection(name="Contoso Sales")
    outcomes = [True, True, False, True, True, True, True, False, True, True, True, True]  # 12 TESTs, 2 failed
    for hour, ok in enumerate(outcomes):
        make_run(connection, hour, ok=ok, elapsed=0.5 + hour / 4)
    svg = sparkline_of(admin_client, "Contoso Sales")
    drawn = bars(svg)
    assert [outcome for outcome, _ in drawn] == ["ok" if ok else "failed" for ok in outcomes[2:]]  # the 2 oldest cut
    assert drawn[0][1] == "2026-11-30 11:00 UTC: unavailable, 1.00 s"
    assert drawn[-1][1] == "2026-11-30 20:00 UTC: available, 3.25 s"
    assert xs(svg) == [0, 6, 12, 18, 24, 30, 36, 42, 48, 54]
    assert 'role="img" aria-label="Last 10 TESTs: 8 available, 2 unavailable"' in svg


def test_the_bars_are_as_tall_as_the_tests_took_next_to_the_slowest(admin_client, make_connection, make_run):
    connection = make_connection(name="Contoso Sales")
    for hour, elapsed in enumerate([3.0, 1.5, 0.01]):
        make_run(connection, hour, elapsed=elapsed)
    heights = re.findall(r'height="(\d+)"><title>', sparkline_of(admin_client, "Contoso Sales"))
    assert heights == ["18", "9", "4"]  # the quickest still shows


def test_fewer_tests_than_bars_end_at_the_right_edge_as_the_others(admin_client, make_connection, make_run):
    connection = make_connection(name="Contoso Sales")
    make_run(connection, 0)
    make_run(connection, 1, ok=False)
    svg = sparkline_of(admin_client, "Contoso Sales")
    assert xs(svg) == [48, 54]
    assert 'viewBox="0 0 60 18" width="60"' in svg
    assert 'aria-label="Last 2 TESTs: 1 available, 1 unavailable"' in svg


def test_it_draws_as_many_tests_as_the_setting_says(admin_client, make_connection, make_run, settings):
    settings.LIST_SPARKLINE_TESTS = 3
    connection = make_connection(name="Contoso Sales")
    for hour in range(5):
        make_run(connection, hour, ok=hour != 4)
    svg = sparkline_of(admin_client, "Contoso Sales")
    assert [outcome for outcome, _ in bars(svg)] == ["ok", "ok", "failed"]
    assert 'aria-label="Last 3 TESTs: 2 available, 1 unavailable"' in svg


def test_a_connection_never_tested_has_no_sparkline_and_still_says_never_tested(admin_client, make_connection):
    make_connection(name="Untested")
    caches["process"].clear()
    page = admin_client.get(LIST_URL).content.decode()
    assert sparkline_of(admin_client, "Untested") is None
    assert "Never tested" in page and "Recent TESTs" in page


def test_the_edit_form_s_tests_of_typed_values_and_unfinished_tests_are_not_drawn(
    admin_client, make_connection, make_run
):
    connection = make_connection(name="Contoso Sales")
    make_run(connection, 0)
    make_run(connection, 1, ok=False, source=RunSource.FORM)  # the Edit form's TEST of typed values
    make_run(connection, 2, source=RunSource.FORM, fingerprint="a" * 64)  # the New form's, adopted by CREATE
    make_run(connection, 3, state=RunState.RUNNING, result=None)
    assert [title for _, title in bars(sparkline_of(admin_client, "Contoso Sales"))] == [
        "2026-11-30 09:00 UTC: available, 1.00 s",
        "2026-11-30 11:00 UTC: available, 1.00 s",
    ]
    only_typed = make_connection(name="Only typed")
    make_run(only_typed, 0, source=RunSource.FORM)
    assert sparkline_of(admin_client, "Only typed") is None


def test_a_single_test_reads_as_one(admin_client, make_connection, make_run):
    make_run(make_connection(name="Contoso Sales"), 0, ok=False)
    assert 'aria-label="Last TEST: 0 available, 1 unavailable"' in sparkline_of(admin_client, "Contoso Sales")


def test_the_sparklines_have_no_style_attribute_and_no_script(admin_client, make_connection, make_run):
    for number in range(3):
        connection = make_connection(name=f"Contoso {number}")
        for hour in range(number * 4):
            make_run(connection, hour, ok=hour % 3 != 0)
    caches["process"].clear()
    page = admin_client.get(LIST_URL).content.decode()
    assert page.count('<svg class="sparkline"') == 2
    assert "style=" not in page and "<script>" not in page


def test_the_bars_titles_say_the_time_in_the_site_s_time_zone(admin_client, make_connection, make_run, settings):
    settings.TIME_ZONE = "Europe/Paris"
    make_run(make_connection(name="Contoso Sales"), 0, ok=False, elapsed=15.0)
    assert bars(sparkline_of(admin_client, "Contoso Sales")) == [
        ("failed", "2026-11-30 10:00 CET: unavailable, 15.00 s")
    ]


def test_it_draws_exactly_the_tests_the_connection_page_s_chart_counts(
    admin_client, make_connection, make_run, settings
):
    settings.LIST_SPARKLINE_TESTS = 50
    connection = make_connection(name="Contoso Sales")
    kinds = [
        (source, fingerprint, state) for source in RunSource for fingerprint in ("", "a" * 64) for state in RunState
    ]
    for hour, (source, fingerprint, state) in enumerate(kinds):
        make_run(connection, hour, source=source, fingerprint=fingerprint, state=state, lock_key=f"run:{hour}")
    counted = TestRun.objects.filter(connection=connection, state=RunState.FINISHED).of_saved_settings()
    drawn = [title.split(": ")[0] for _, title in bars(sparkline_of(admin_client, "Contoso Sales"))]
    assert drawn == [f"{run.created_at:%Y-%m-%d %H:%M} UTC" for run in counted.order_by("created_at")]
    assert len(drawn) == 13  # 8 sources × 2, but the Edit form's TEST of typed values and new credentials' TESTs
