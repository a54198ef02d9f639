"""The audit trail keeps the name of a deleted connection: the row is gone, the administrators still read who
deleted what."""

import re

import pytest

from audit.models import AuditEvent
from connections.models import Connection
from tests.marketplace.helpers import text_of

pytestmark = pytest.mark.django_db


def trail_rows(client, action: str = "") -> list[str]:
    """The rows of the audit trail page as text: When Who What Target Outcome."""
    page = client.get("/audit/", {"action": action} if action else {}).content.decode()
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_it_names_the_deleted_connection_in_the_trail(admin_client, make_connection):
    doomed = make_connection(name="Northwind Traders (to delete)")
    make_connection(name="Contoso Sales")
    page = admin_client.post(f"/connections/{doomed.pk}/delete/", follow=True).content.decode()
    assert "The connection “Northwind Traders (to delete)” was deleted." in page
    assert not Connection.objects.filter(pk=doomed.pk).exists()

    rows = trail_rows(admin_client, action="connection.deleted")
    assert len(rows) == 1
    assert "admin Deleted a connection Northwind Traders (to delete)" in rows[0]
    event = AuditEvent.objects.get(action="connection.deleted")
    assert (event.target_type, event.target_id) == ("connections.connection", str(doomed.pk))


def test_the_unfiltered_trail_shows_the_deletion_with_the_name_after_the_row_is_gone(admin_client, make_connection):
    doomed = make_connection(name="Fabrikam (to delete)")
    admin_client.post(f"/connections/{doomed.pk}/delete/")
    newest = trail_rows(admin_client)[0]
    assert "Deleted a connection Fabrikam (to delete)" in newest
