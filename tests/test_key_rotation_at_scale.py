"""Key rotation over a database of many connections: every secret still decrypts, a rerun finishes the job."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from connections import crypto
from connections.models import Connection

pytestmark = pytest.mark.django_db
MANY = 300


def test_rotation_over_many_connections_loses_nothing_and_can_be_rerun(settings, admin_user):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = [old]
    Connection.objects.bulk_create(
        Connection(
            name=f"Connection {number:03}",
            client_id="11111111-2222-3333-4444-555555555555",
            url=f"https://org{number}.crm.dynamics.com/",
            azure_tenant="contoso.onmicrosoft.com",
            owner=admin_user,
            client_secret_encrypted=crypto.encrypt(f"secret-{number}"),
            windows_password_encrypted=crypto.encrypt(f"password-{number}") if number % 3 == 0 else "",
        )
        for number in range(MANY)
    )
    settings.FIELD_ENCRYPTION_KEY = [new, old]
    # A rotation interrupted after the first hundred rows...
    for connection in Connection.objects.order_by("pk")[:100]:
        Connection.objects.filter(pk=connection.pk).update(
            client_secret_encrypted=crypto.rotate(connection.client_secret_encrypted)
        )
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "already used the newest key" in out.getvalue()

    settings.FIELD_ENCRYPTION_KEY = [new]  # the old key is gone: everything must still decrypt
    by_name = {c.name: c for c in Connection.objects.all()}
    assert len(by_name) == MANY
    for number in range(MANY):
        connection = by_name[f"Connection {number:03}"]
        assert connection.get_client_secret() == f"secret-{number}"
        assert connection.get_windows_password() == (f"password-{number}" if number % 3 == 0 else "")

    again = StringIO()
    call_command("rotate_encryption_key", stdout=again)
    assert f"Re-encrypted 0 connection(s); {MANY} already used the newest key." in again.getvalue()
