"""Preview on Dataverse: a table's first 10 rows with all of its columns and formatted values, within its bounds,
and each refusal with what to do about it."""

import pytest

from audit.models import Action, AuditEvent
from connections.dynamics import web_api_reader
from tests.helpers import ENV_URL
from tests.preview_helpers import FORMATTED, failure, preview_table, text_of
from tests.test_connection_test import good

pytestmark = pytest.mark.django_db
WIDGET_COLUMNS = [
    ("new_name", "String"),
    ("new_notes", "Memo"),
    ("new_contact", "Lookup", "Contact", "contact"),
    ("new_size", "Picklist"),
    ("new_price", "Money"),
    ("new_due", "DateTime"),
    ("new_never", "String"),  # empty in every row
]


@pytest.fixture
def saved(make_connection, microsoft):
    return make_connection(name="Contoso Sales", **good(microsoft))


def preview(client, connection, table="account", **extra):
    return client.post(f"/connections/{connection.pk}/preview/", {"table": table}, **extra)


def widgets(microsoft, rows):
    table = microsoft.sim.add_table(ENV_URL, "new_widget", columns=WIDGET_COLUMNS, rows=rows, display_name="Widget")
    table.columns["new_size"].options = {1: "Small", 2: "Large"}
    microsoft.sim.define_role(ENV_URL, "Widget reader", ["prvReadnew_widget"])
    microsoft.sim.assign_roles(ENV_URL, microsoft.app_user, "Widget reader")
    return table


def test_it_shows_every_column_of_the_table_even_one_empty_in_every_row(admin_client, saved, microsoft):
    response = preview(admin_client, saved, "account")
    assert response.status_code == 200
    table = preview_table(response)
    names = [header.split()[-1] for header in table.headers]
    assert names[:2] == ["name", "accountid"]  # the primary name and key first
    assert set(names) >= {"telephone1", "revenue", "industrycode", "primarycontactid", "ownerid", "createdon"}
    assert "Main Phone telephone1" in table.headers  # display name and logical name
    assert len(table.rows) == 2
    telephone = names.index("telephone1")
    assert [row[telephone][0] for row in table.rows] == ["—", "—"]  # empty in both rows, and still a column
    summary = text_of(response, "preview-summary")
    assert summary == f"2 rows of account (Account), {len(names)} columns; values are shown, never stored."
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]


def test_it_shows_formatted_values_for_lookups_option_sets_money_and_dates(admin_client, saved, microsoft):
    contact = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    widgets(
        microsoft,
        [
            {
                "new_name": "Sprocket",
                "new_contact": (contact, "Yvonne McKay"),
                "new_size": 2,
                "new_price": 1234.5,
                "new_due": "2024-03-01T09:30:00Z",
            }
        ],
    )
    response = preview(admin_client, saved, "new_widget")
    table = preview_table(response)
    names = [header.split()[-1] for header in table.headers]
    row = dict(zip(names, table.rows[0], strict=True))
    assert row["new_contact"] == ("Yvonne McKay", contact)  # the name, the GUID as its title
    assert row["new_size"] == ("Large", "2")
    assert row["new_price"] == ("$1,234.50", "1234.5")
    assert row["new_due"] == ("3/1/2024 9:30 AM", "2024-03-01T09:30:00Z")
    assert row["new_never"][0] == "—" and row["new_notes"][0] == "—"
    assert "Contact new_contact" in table.headers


def test_it_shows_ten_rows_at_most(admin_client, saved, microsoft):
    widgets(microsoft, [{"new_name": f"Widget {n}"} for n in range(25)])
    microsoft.sim.clear_requests()
    response = preview(admin_client, saved, "new_widget")
    assert len(preview_table(response).rows) == 10
    [read] = [r for r in microsoft.sim.requests if r.path.endswith("/new_widgets")]
    assert "$top=10" in read.query
    # The simulator keeps no headers: the preference the rows are asked with.
    assert web_api_reader.ROWS_PREFER == f'odata.include-annotations="{FORMATTED}",odata.maxpagesize=10'
    assert text_of(response, "preview-summary").startswith("10 rows of new_widget")


def test_it_escapes_every_value(admin_client, saved, microsoft):
    widgets(microsoft, [{"new_name": "<script>alert(1)</script>", "new_contact": (str(ENV_URL), '"><b>x</b>')}])
    page = preview(admin_client, saved, "new_widget").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>x</b>" not in page


def test_it_stops_at_the_byte_cap_with_a_clear_message(admin_client, saved, microsoft):
    widgets(microsoft, [{"new_name": "Huge", "new_notes": "x" * (1024 * 1024 + 10)}])
    response = preview(admin_client, saved, "new_widget")
    assert response.status_code == 200
    assert "larger than 1024 KiB" in failure(response) and "shows nothing" in failure(response)
    assert preview_table(response).rows == []


def test_it_stays_within_its_time_budget(admin_client, saved, microsoft, settings):
    settings.PREVIEW_TIMEOUT = 2
    microsoft.sim.set_delay(4, path="/accounts")
    response = preview(admin_client, saved, "account")
    assert "did not finish within its 2 s time budget" in failure(response)


def test_it_names_the_missing_privilege_and_where_to_grant_it(admin_client, saved, microsoft):
    microsoft.sim.define_role(ENV_URL, "Contacts only", {"prvReadContact": "Global"})
    microsoft.sim.set_roles(ENV_URL, microsoft.app_user, "Contacts only")
    text = failure(preview(admin_client, saved, "account"))
    assert "The application user may not read account: it is missing prvReadAccount (HTTP 403, 0x80040220)" in text
    assert "Power Platform admin center > Environments > the environment > Settings > Users + permissions > " in text
    assert "Security roles" in text


def test_it_says_a_table_does_not_exist(admin_client, saved, microsoft):
    text = failure(preview(admin_client, saved, "new_nothing"))
    assert "There is no table new_nothing in this environment (HTTP 404)" in text
    assert "logical name" in text


def test_it_explains_an_app_blocked_by_app_access_control(admin_client, saved, microsoft):
    blocked = {
        "error": {"code": "0x80095ffc", "message": "Access to the Dataverse API is restricted for this application ID."}
    }
    microsoft.sim.set_responses([(403, {}, blocked)], path="EntityDefinitions")
    text = failure(preview(admin_client, saved, "account"))
    assert "app access control blocks this app" in text and "App access control" in text


def test_it_explains_the_ip_firewall(admin_client, saved, microsoft):
    microsoft.sim.set_ip_firewall(ENV_URL, allowed=["10.0.0.0/8"], allow_application_users=False)
    text = failure(preview(admin_client, saved, "account"))
    assert "IP firewall refused this server's address (HTTP 403)" in text and "IP address settings" in text


def test_it_waits_out_a_429_within_its_budget(admin_client, saved, microsoft):
    microsoft.sim.set_responses([(429, {"Retry-After": "1"})], path="/accounts")
    response = preview(admin_client, saved, "account")
    assert len(preview_table(response).rows) == 2


def test_it_explains_a_429_it_cannot_wait_out(admin_client, saved, microsoft):
    microsoft.sim.set_responses([(429, {"Retry-After": "60"})], path="/accounts")
    text = failure(preview(admin_client, saved, "account"))
    assert "service protection limits refused the rows of account (HTTP 429" in text
    assert "retry after 60 s" in text


def test_it_records_who_previewed_which_table_and_never_a_value(admin_client, saved, microsoft, admin_user, all_logs):
    widgets(microsoft, [{"new_name": "Confidential Sprocket 7781"}])
    preview(admin_client, saved, "new_widget")
    event = AuditEvent.objects.get(action=Action.DATA_PREVIEWED)
    assert (event.actor, event.target_id, event.outcome) == (admin_user, str(saved.pk), "previewed")
    assert event.detail == "new_widget: 1 row"
    everything = [vars(e) for e in AuditEvent.objects.all()] + [r.getMessage() for r in all_logs]
    assert "Confidential Sprocket 7781" not in repr(everything)


def test_a_failed_preview_is_recorded_too(admin_client, saved, microsoft):
    preview(admin_client, saved, "new_nothing")
    event = AuditEvent.objects.get(action=Action.DATA_PREVIEWED)
    assert (event.outcome, event.detail) == ("table_not_found", "new_nothing: 0 rows")


def test_a_bug_is_an_internal_error_whose_log_holds_no_value(admin_client, saved, microsoft, monkeypatch, all_logs):
    widgets(microsoft, [{"new_name": "Confidential Sprocket 7781"}])

    def broken(body, columns):
        raise ValueError(f"cannot show {body['value'][0]['new_name']}")

    monkeypatch.setattr(web_api_reader, "web_api_rows", broken)
    response = preview(admin_client, saved, "new_widget")
    assert response.status_code == 200 and "An internal error stopped the preview (incident" in failure(response)
    logged = "\n".join(record.getMessage() for record in all_logs)
    assert "Internal error" in logged and "ValueError" in logged
    assert "Confidential Sprocket 7781" not in logged + response.content.decode()
