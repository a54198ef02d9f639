"""The Connector Marketplace's email settings: one EMAIL_URL becomes Django's MAILERS; bad values fail at start."""

import json

import pytest

from tests.test_settings import run

SHOW = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps({'mailer': settings.MAILERS['default'], 'from': settings.DEFAULT_FROM_EMAIL}))"
)


def mailer(**overrides: str) -> dict:
    started = run(["-c", SHOW], **overrides)
    assert started.returncode == 0, started.stderr
    return json.loads(started.stdout)


def test_production_hands_email_to_the_local_mail_server_by_default():
    shown = mailer()
    assert shown["mailer"]["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (shown["mailer"]["OPTIONS"]["host"], shown["mailer"]["OPTIONS"]["timeout"]) == ("localhost", 10.0)
    assert shown["from"] == "Gathr <gathr@localhost>"


def test_development_prints_email_by_default():
    shown = mailer(APP_ENV="development", SECRET_KEY="", FIELD_ENCRYPTION_KEY="")
    assert shown["mailer"] == {"BACKEND": "django.core.mail.backends.console.EmailBackend", "OPTIONS": {}}


def test_it_reads_an_smtp_url_with_tls_credentials_and_timeout():
    shown = mailer(
        EMAIL_URL="smtp+tls://mailer:p%40ss@smtp.example.com:587",
        EMAIL_TIMEOUT="4",
        DEFAULT_FROM_EMAIL="Gathr <gathr@example.com>",
    )
    assert shown["mailer"]["OPTIONS"] == {
        "host": "smtp.example.com",
        "port": 587,
        "username": "mailer",
        "password": "p@ss",
        "use_tls": True,
        "use_ssl": False,
        "timeout": 4.0,
    }
    assert shown["from"] == "Gathr <gathr@example.com>"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"EMAIL_URL": "pigeon://coop"}, "Invalid email schema pigeon"),
        ({"EMAIL_TIMEOUT": "0"}, "EMAIL_TIMEOUT must be more than 0 and at most 300 seconds"),
    ],
)
def test_a_bad_email_setting_fails_at_start(overrides, message):
    refused = run(["-c", SHOW], **overrides)
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr and message in refused.stderr
