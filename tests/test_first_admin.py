"""The first administrator: `manage.py ensure_admin` on an empty database, or `createsuperuser --noinput`."""

import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.test import RequestFactory

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

User = get_user_model()


def sign_in_request():
    """django-axes throttles sign-ins per address: authenticate() needs the request."""
    return RequestFactory().post("/accounts/login/")


def ensure_admin(*args: str) -> str:
    out = StringIO()
    call_command("ensure_admin", *args, stdout=out)
    return out.getvalue()


def printed_password(output: str) -> str:
    return re.search(r"password: (\S+)", output).group(1)


def test_it_creates_a_superuser_with_a_password_printed_once(db, client, all_logs):
    output = ensure_admin()
    password = printed_password(output)
    admin = authenticate(request=sign_in_request(), username="admin", password=password)
    assert admin is not None
    assert (admin.is_superuser, admin.is_staff, admin.is_active) == (True, True, True)
    assert "shown only once" in output
    validate_password(password, admin)
    signed_in = client.post("/accounts/login/", {"username": "admin", "password": password})
    assert signed_in.status_code == 302
    assert client.get("/connections/").status_code == 200
    assert not any(password in record.getMessage() for record in all_logs)


def test_it_prints_a_new_random_password_each_time_it_creates_one(db):
    first = printed_password(ensure_admin())
    User.objects.all().delete()
    second = printed_password(ensure_admin())
    assert first != second
    assert authenticate(request=sign_in_request(), username="admin", password=first) is None
    assert authenticate(request=sign_in_request(), username="admin", password=second) is not None


def test_it_takes_the_username_and_email_asked_for(db):
    output = ensure_admin("--username", "ops", "--email", "ops@contoso.com")
    admin = authenticate(request=sign_in_request(), username="ops", password=printed_password(output))
    assert (admin.username, admin.email) == ("ops", "ops@contoso.com")


def test_it_creates_nothing_and_prints_no_password_when_a_user_exists(user):
    output = ensure_admin()
    assert "Users exist already: no administrator created." in output
    assert "password" not in output.lower()
    assert list(User.objects.values_list("username", flat=True)) == ["maria"]
    assert not User.objects.filter(is_superuser=True).exists()


def test_it_does_not_print_a_password_on_its_second_run(db):
    ensure_admin()
    again = ensure_admin()
    assert "password" not in again.lower()
    assert User.objects.count() == 1


def test_createsuperuser_noinput_takes_the_account_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root-admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long and unguessable passphrase 77")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@contoso.com")
    call_command("createsuperuser", "--noinput", stdout=StringIO())
    admin = authenticate(
        request=sign_in_request(), username="root-admin", password="a long and unguessable passphrase 77"
    )
    assert admin is not None
    assert (admin.email, admin.is_superuser, admin.is_staff) == ("root@contoso.com", True, True)
