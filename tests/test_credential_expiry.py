"""A credential's expiry on the Connections list, the connection page, the admin and the form: 30, 7 and 1 days
before, and Expired (before any TEST)."""

import datetime as dt
import html

import pytest
from django.urls import reverse

from connections import expiry
from connections.models import Connection
from tests.helpers import form_data
from tests.test_connection_list import rows, text_of

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def days(n: float) -> dt.datetime:
    return NOW + dt.timedelta(days=n)


@pytest.mark.parametrize(
    ("ends", "level", "badge"),
    [
        (days(-1), expiry.EXPIRED, "Expired"),
        (NOW, expiry.EXPIRED, "Expired"),
        (days(0.2), expiry.DAY, "Expires today"),
        (days(1), expiry.DAY, "Expires tomorrow"),
        (days(1.5), expiry.WEEK, "Expires in 2 days"),
        (days(5), expiry.WEEK, "Expires in 5 days"),
        (days(7), expiry.WEEK, "Expires in 7 days"),
        (days(7.01), expiry.MONTH, "Expires in 7 days"),  # 7 days and 14 minutes: the 8th, 7 calendar days on
        (days(30), expiry.MONTH, "Expires in 30 days"),
        (days(30.01), expiry.FINE, ""),
        (days(400), expiry.FINE, ""),
    ],
)
def test_the_levels_are_30_7_and_1_days_and_expired(ends, level, badge):
    assert expiry.level(ends, NOW) == level
    assert expiry.badge(ends, NOW) == badge


def row_values(**overrides) -> dict:
    values = dict.fromkeys(expiry.COLUMNS)
    values.update(crm_version="CRMOnline", credential_type="secret", credential_expiry_of="")
    return values | overrides


def test_a_certificate_expires_at_its_not_after():
    found = expiry.effective(row_values(credential_type="certificate", certificate_not_after=days(3)))
    assert found == expiry.Expiry(days(3), expiry.CERTIFICATE)


def test_a_secret_read_from_graph_wins_over_the_typed_date():
    values = row_values(
        credential_expires_at=days(3), credential_expiry_of="secret:abc", secret_expires_on=days(90).date()
    )
    assert expiry.effective(values) == expiry.Expiry(days(3), expiry.GRAPH)


def test_a_typed_date_counts_from_the_start_of_that_day():
    found = expiry.effective(row_values(secret_expires_on=dt.date(2026, 12, 6)))
    assert found == expiry.Expiry(dt.datetime(2026, 12, 6, tzinfo=dt.UTC), expiry.TYPED)
    assert found.badge(NOW) == "Expires in 5 days"


def test_an_on_premises_connection_has_no_credential_expiry():
    assert expiry.effective(row_values(crm_version="CRM2011+", secret_expires_on=dt.date(2026, 12, 6))) is None


def test_nothing_known_is_no_expiry():
    assert expiry.effective(row_values()) is None


@pytest.fixture
def expired(make_connection):
    """A secret that ended yesterday, as Microsoft Graph said in an earlier TEST; no TEST since."""
    connection = make_connection(name="Contoso Expired")
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    Connection.objects.filter(pk=connection.pk).update(
        credential_expires_at=yesterday, credential_expiry_of="secret:abc", credential_expiry_read_at=yesterday
    )
    return connection


def name_cell(response, name: str) -> str:
    return next(row[0] for row in rows(response) if row[0].startswith(name))


def test_the_list_shows_an_expired_secret_before_any_test(admin_client, expired, make_connection):
    make_connection(name="Fabrikam Fine")
    response = admin_client.get(reverse("connections:list"))
    assert name_cell(response, "Contoso Expired") == "Contoso Expired Expired"
    assert name_cell(response, "Fabrikam Fine") == "Fabrikam Fine"
    assert Connection.objects.get(pk=expired.pk).last_tested_at is None


def test_the_list_shows_the_days_left_within_30_days(admin_client, make_connection):
    soon = make_connection(name="Contoso Soon", secret_expires_on=dt.date.today() + dt.timedelta(days=5))
    later = make_connection(name="Northwind Later", secret_expires_on=dt.date.today() + dt.timedelta(days=60))
    response = admin_client.get(reverse("connections:list"))
    assert name_cell(response, soon.name) in ("Contoso Soon Expires in 4 days", "Contoso Soon Expires in 5 days")
    assert name_cell(response, later.name) == "Northwind Later"


def test_the_list_shows_a_certificate_s_end(admin_client, make_connection):
    make_connection(
        name="Contoso Certificate",
        client_secret="",
        credential_type="certificate",
        certificate_not_after=dt.datetime.now(dt.UTC) + dt.timedelta(hours=20),
    )
    response = admin_client.get(reverse("connections:list"))
    assert name_cell(response, "Contoso Certificate") in (  # 20 hours left: today or tomorrow, by the time of day
        "Contoso Certificate Expires today",
        "Contoso Certificate Expires tomorrow",
    )


def test_the_connection_page_shows_an_expired_secret_and_where_the_date_comes_from(admin_client, expired):
    page = admin_client.get(expired.get_absolute_url()).content.decode()
    shown = html.unescape(text_of(page.split('id="credential-expiry">')[1].split("</dd>")[0]))
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%d")
    assert shown.startswith(f"{yesterday} Expired read from Microsoft Graph on {yesterday}")
    assert "Add a new client secret" in shown


def test_the_connection_page_says_how_to_know_an_unknown_expiry(admin_client, make_connection):
    connection = make_connection()
    Connection.objects.filter(pk=connection.pk).update(
        last_test_steps=[
            {
                "key": "expiry",
                "label": "Credential expiry",
                "status": "warning",
                "elapsed": 0.1,
                "detail": "Microsoft Graph refused to list the app's credentials: the app lacks the "
                "Application.Read.All application permission.",
            }
        ]
    )
    page = admin_client.get(connection.get_absolute_url()).content.decode()
    shown = html.unescape(text_of(page.split('id="credential-expiry">')[1].split("</dd>")[0]))
    assert shown.startswith("Unknown")
    assert "Edit > Secret expires" in shown
    assert "Last TEST: Microsoft Graph refused to list the app's credentials" in shown


def test_the_admin_lists_the_credential_expiry(admin_client, expired):
    page = admin_client.get(reverse("admin:connections_connection_changelist")).content.decode()
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%d")
    assert f'<td class="field-credential_expiry">{yesterday} (Expired), read from Microsoft Graph on' in page


def test_an_admin_may_type_the_secret_s_expiry_date_on_the_form(admin_client, make_connection):
    connection = make_connection(name="Contoso Typed")
    data = form_data(
        action="create",
        name=connection.name,
        client_id=connection.client_id,
        client_secret="",
        azure_tenant=connection.azure_tenant,
        url=connection.url,
        secret_expires_on="2026-12-03",
    )
    response = admin_client.post(reverse("connections:edit", args=[connection.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    connection.refresh_from_db()
    assert connection.secret_expires_on == dt.date(2026, 12, 3)
    shown = expiry.shown(connection, NOW)
    assert (shown.badge, shown.source) == ("Expires in 2 days", "typed from the portal (Secret expires)")
    form = admin_client.get(reverse("connections:edit", args=[connection.pk])).content.decode()
    assert 'type="date" name="secret_expires_on" value="2026-12-03"' in form
    assert "the date in the Expires column of the app registration" in form


def test_a_new_secret_forgets_the_old_secret_s_reading(make_connection):
    connection = make_connection()
    connection.credential_expires_at = connection.credential_expiry_read_at = NOW
    connection.credential_expiry_of, connection.expiry_warned_level = "secret:abc", expiry.WEEK
    connection.set_client_secret("a-brand-new-secret")
    assert (connection.credential_expires_at, connection.credential_expiry_of, connection.expiry_warned_level) == (
        None,
        "",
        0,
    )


def test_a_new_secret_forgets_the_date_typed_for_the_old_one(admin_client, make_connection):
    connection = make_connection(name="Contoso Typed", secret_expires_on=dt.date(2026, 12, 3))
    data = form_data(
        name=connection.name,
        client_id=connection.client_id,
        client_secret="a-brand-new-secret-value-0123",
        azure_tenant=connection.azure_tenant,
        url=connection.url,
        secret_expires_on="2026-12-03",
    )
    response = admin_client.post(reverse("connections:edit", args=[connection.pk]), data)
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.secret_expires_on is None
