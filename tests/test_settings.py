"""Settings from the environment: production refuses to start without its keys, bad values fail at start.

Each case starts a fresh Python with an environment spelled out in full, so neither the developer's
shell nor a local .env file (read with overwrite=False: an explicit value always wins) can change the outcome.
"""

import json
import logging
import os
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from gathr_connector.keys import local_key, new_fernet_key

BASE_DIR = Path(__file__).resolve().parent.parent
STRONG_SECRET_KEY = secrets.token_urlsafe(50)
FERNET_KEY = Fernet.generate_key().decode()
OLDER_FERNET_KEY = Fernet.generate_key().decode()

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "gathr_connector.settings",
    "APP_ENV": "production",
    "DEBUG": "false",
    "SECRET_KEY": STRONG_SECRET_KEY,
    "FIELD_ENCRYPTION_KEY": FERNET_KEY,
    "ALLOWED_HOSTS": "connectors.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://connectors.example.com",
    "SITE_URL": "https://connectors.example.com",
    "DATABASE_URL": "sqlite:///:memory:",
    "CONN_MAX_AGE": "60",
    "CACHE_URL": "locmemcache://",
    "TIME_ZONE": "UTC",
    "STATIC_ROOT": str(BASE_DIR / "staticfiles"),
    "WHITENOISE_USE_FINDERS": "false",
    "SECURE_COOKIES": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "USE_X_FORWARDED_PROTO": "false",
    "OUTBOUND_ALLOWED_NETWORKS": "",
    "TEST_CONNECT_TIMEOUT": "5",
    "TEST_READ_TIMEOUT": "15",
    "TEST_TOTAL_TIMEOUT": "30",
    "LOG_LEVEL": "WARNING",
}
START = "import django; django.setup(); from django.conf import settings; print('started', settings.APP_ENV)"


def run(args: list[str], **overrides: str) -> subprocess.CompletedProcess:
    inherited = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**inherited, **PRODUCTION, **overrides},
        capture_output=True,
        text=True,
        timeout=120,
    )


def start(**overrides: str) -> subprocess.CompletedProcess:
    return run(["-c", START], **overrides)


def test_production_starts_with_its_keys_set():
    started = start()
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "started production"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY"])
def test_production_refuses_to_start_without_a_key(missing):
    refused = start(**{missing: ""})
    assert refused.returncode != 0
    assert f"ImproperlyConfigured: {missing} must be set when APP_ENV=production." in refused.stderr


def test_production_names_the_first_missing_key_when_both_are_missing():
    refused = start(SECRET_KEY="", FIELD_ENCRYPTION_KEY="")
    assert refused.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set" in refused.stderr


def test_the_deploy_check_passes_without_warnings():
    checked = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout


def test_it_reads_several_encryption_keys_newest_first():
    code = "import django; django.setup(); from django.conf import settings; print(*settings.FIELD_ENCRYPTION_KEY)"
    started = run(["-c", code], FIELD_ENCRYPTION_KEY=f" {FERNET_KEY} , {OLDER_FERNET_KEY} ,")
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == [FERNET_KEY, OLDER_FERNET_KEY]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"OUTBOUND_ALLOWED_NETWORKS": "10.20.0.0/33"}, "OUTBOUND_ALLOWED_NETWORKS"),
        ({"OUTBOUND_ALLOWED_NETWORKS": "10.20.0.0/16,intranet"}, "OUTBOUND_ALLOWED_NETWORKS"),
        ({"APP_ENV": "staging"}, "APP_ENV must be 'development' or 'production'."),
        ({"DEBUG": "true"}, "DEBUG must be off when APP_ENV=production."),
        ({"TEST_TOTAL_TIMEOUT": "0"}, "TEST_TOTAL_TIMEOUT must be more than 0 and at most 300 seconds, not 0."),
        ({"TEST_CONNECT_TIMEOUT": "-1"}, "TEST_CONNECT_TIMEOUT must be more than 0 and at most 30 seconds"),
        ({"TEST_READ_TIMEOUT": "45"}, "TEST_READ_TIMEOUT must be more than 0 and at most 30 seconds, not 45."),
        ({"TEST_READ_TIMEOUT": "soon"}, "TEST_READ_TIMEOUT must be a number of seconds, not 'soon'."),
        ({"TEST_TOTAL_TIMEOUT": "60", "WEB_TIMEOUT": "60"}, "must be less than WEB_TIMEOUT (60 s)"),
        ({"WEB_TIMEOUT": "20"}, "TEST_TOTAL_TIMEOUT (30 s) must be less than WEB_TIMEOUT (20 s)"),
        ({"PREVIEW_TIMEOUT": "60", "WEB_TIMEOUT": "59"}, "PREVIEW_TIMEOUT (60 s) must be less than WEB_TIMEOUT (59 s)"),
        ({"PREVIEW_RATE_PER_USER": "0"}, "PREVIEW_RATE_PER_USER must be more than 0"),
        ({"TEST_RATE_PER_USER": "0"}, "TEST_RATE_PER_USER must be more than 0"),
        ({"TEST_RATE_PER_HOST": "-5"}, "TEST_RATE_PER_HOST must be more than 0"),
        ({"AXES_FAILURE_LIMIT": "0"}, "AXES_FAILURE_LIMIT must be more than 0"),
        ({"TEST_HISTORY_DAYS": "0"}, "TEST_HISTORY_DAYS must be more than 0 and at most 3650 days, not 0."),
        ({"TEST_HISTORY_DAYS": "a year"}, "TEST_HISTORY_DAYS must be a number of days, not 'a year'."),
        ({"HEALTH_DOWN_AFTER": "0"}, "HEALTH_DOWN_AFTER must be more than 0 and at most 100 failed TESTs, not 0."),
        ({"HEALTH_DOWN_AFTER": "two"}, "HEALTH_DOWN_AFTER must be a number of failed TESTs, not 'two'."),
        ({"LIST_SPARKLINE_TESTS": "0"}, "LIST_SPARKLINE_TESTS must be more than 0 and at most 50 TESTs, not 0."),
        ({"EMAIL_TIMEOUT": "0"}, "EMAIL_TIMEOUT must be more than 0"),
        ({"CONN_MAX_AGE": "-1"}, "CONN_MAX_AGE must be more than -1"),
        ({"SQLITE_BUSY_TIMEOUT": "0"}, "SQLITE_BUSY_TIMEOUT must be more than 0 and at most 300 seconds, not 0."),
        ({"SQLITE_BUSY_TIMEOUT": "301"}, "SQLITE_BUSY_TIMEOUT must be more than 0 and at most 300 seconds"),
        ({"SQLITE_BUSY_TIMEOUT": "twenty"}, "SQLITE_BUSY_TIMEOUT must be a number of seconds, not 'twenty'."),
        ({"FEDERATED_ASSERTION_LIFETIME": "601"}, "FEDERATED_ASSERTION_LIFETIME must be more than 59 and at most 600"),
        ({"FEDERATED_ASSERTION_LIFETIME": "59"}, "FEDERATED_ASSERTION_LIFETIME must be more than 59 and at most 600"),
        ({"FEDERATION_KEY_PUBLISH_AHEAD": "-1"}, "FEDERATION_KEY_PUBLISH_AHEAD must be more than -1"),
        ({"FEDERATION_KEY_ROTATION_DAYS": "often"}, "FEDERATION_KEY_ROTATION_DAYS must be a number of days"),
        ({"FEDERATION_SIGNING_KEYS": "/nonexistent/issuer.pem"}, "FEDERATION_SIGNING_KEYS: /nonexistent/issuer.pem"),
        ({"OUTBOUND_PROXY": "socks5://127.0.0.1:1080"}, "OUTBOUND_PROXY must start with http:// or https://"),
        ({"OUTBOUND_PROXY": "proxy.example.com:3128"}, "OUTBOUND_PROXY must start with http:// or https://"),
        ({"OUTBOUND_PROXY": "http://proxy.example.com:3128/pac"}, "with no path or query"),
        ({"OUTBOUND_PROXY": "http://:3128"}, "OUTBOUND_PROXY names no host"),
        ({"OUTBOUND_PROXY": "http://p:3128", "OUTBOUND_NO_PROXY": "a/b"}, "OUTBOUND_NO_PROXY: 'a/b' is not a host"),
        ({"HTTPS_PROXY": "ftp://proxy.example.com:21"}, "HTTPS_PROXY must start with http:// or https://"),
        ({"HTTP_PROXY": "http://proxy.example.com:3128", "NO_PROXY": "*.x/y"}, "NO_PROXY: '*.x/y' is not"),
    ],
)
def test_a_bad_value_fails_at_start(overrides, message):
    refused = start(**overrides)
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr
    assert message in refused.stderr


def test_sqlite_writers_take_the_write_lock_at_once_and_wait_for_it_as_long_as_set():
    code = "import django, json; django.setup(); from django.conf import settings as s; "
    code += "print(json.dumps(s.DATABASES['default']['OPTIONS']))"
    started = run(["-c", code], DATABASE_URL="sqlite:////tmp/gathr-settings.sqlite3", SQLITE_BUSY_TIMEOUT="7.5")
    assert started.returncode == 0, started.stderr
    options = json.loads(started.stdout)
    assert options["transaction_mode"] == "IMMEDIATE"
    assert options["timeout"] == 7.5


def test_it_accepts_valid_outbound_networks():
    started = start(OUTBOUND_ALLOWED_NETWORKS="10.20.0.0/16, 192.168.1.7, fd00::/8")
    assert started.returncode == 0, started.stderr


def test_it_reads_the_outbound_proxy_and_never_shows_its_password():
    code = "import django; django.setup(); from django.conf import settings; print(repr(settings.OUTBOUND_PROXIES))"
    own = run(
        ["-c", code], OUTBOUND_PROXY="http://svc:hunter%402@proxy.corp:3128", OUTBOUND_NO_PROXY=".corp,10.0.0.0/8"
    )
    assert own.returncode == 0, own.stderr
    assert "http://proxy.corp:3128" in own.stdout and "user='svc'" in own.stdout and "hunter" not in own.stdout
    standard = run(["-c", code], HTTPS_PROXY="proxy.corp:8080", NO_PROXY="localhost")
    assert "https=ProxyURL('http://proxy.corp:8080'" in standard.stdout and "setting='HTTPS_PROXY'" in standard.stdout
    refused = start(OUTBOUND_PROXY="http://svc:hunter2@proxy.corp:port")
    assert "ImproperlyConfigured: OUTBOUND_PROXY: http://***@proxy.corp:port is not a URL" in refused.stderr
    assert "hunter2" not in refused.stderr


def test_an_invalid_encryption_key_fails_clearly_at_start():
    failed = run(["-c", "import django; django.setup()"], FIELD_ENCRYPTION_KEY="not-a-fernet-key")
    assert failed.returncode != 0
    assert "ImproperlyConfigured: FIELD_ENCRYPTION_KEY must be comma-separated Fernet keys" in failed.stderr


def test_development_generates_a_key_into_a_private_local_file_and_warns(tmp_path, caplog):
    path = tmp_path / ".local" / "field_encryption_key"
    with caplog.at_level(logging.WARNING, logger="gathr_connector.settings"):
        key = local_key(path, new_fernet_key)
    Fernet(key.encode())  # a usable key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "No FIELD_ENCRYPTION_KEY configured" in caplog.text
    assert str(path) in caplog.text
    caplog.clear()
    assert local_key(path, new_fernet_key) == key
    assert caplog.text == ""


def test_the_generated_local_keys_are_ignored_by_git():
    ignored = (BASE_DIR / ".gitignore").read_text().split()
    assert ".local/" in ignored
    assert ".env" in ignored


DOCUMENTED_DEFAULTS = {
    "TEST_CONNECT_TIMEOUT": 5.0,
    "TEST_READ_TIMEOUT": 15.0,
    "TEST_TOTAL_TIMEOUT": 30.0,
    "WEB_TIMEOUT": 60.0,
    "TEST_RATE_PER_USER": 20,
    "TEST_RATE_PER_HOST": 30,
    "AXES_FAILURE_LIMIT": 5,
    "TEST_HISTORY_DAYS": 90,
    "HEALTH_DOWN_AFTER": 2,
    "LIST_SPARKLINE_TESTS": 10,
    "PREVIEW_TIMEOUT": 10.0,
    "PREVIEW_RATE_PER_USER": 6,
    "FEDERATED_ASSERTION_LIFETIME": 300,
    "FEDERATION_KEY_PUBLISH_AHEAD": 3600,
    "FEDERATION_KEY_ROTATION_DAYS": 90,
    "FEDERATION_SIGNING_KEYS": [],
}


def test_it_uses_the_documented_defaults_when_nothing_is_set():
    code = (
        "import django; django.setup(); from django.conf import settings; "
        f"print(repr({{name: getattr(settings, name) for name in {list(DOCUMENTED_DEFAULTS)!r}}})); "
        "print(settings.AXES_COOLOFF_TIME.total_seconds(), settings.DATABASES['default']['CONN_MAX_AGE'])"
    )
    environment = {key: value for key, value in PRODUCTION.items() if key not in {*DOCUMENTED_DEFAULTS, "CONN_MAX_AGE"}}
    inherited = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    started = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env={**inherited, **environment}, capture_output=True, text=True
    )
    assert started.returncode == 0, started.stderr
    values, other = started.stdout.strip().splitlines()
    assert eval(values) == DOCUMENTED_DEFAULTS  # noqa: S307 - our own repr of numbers
    assert other == "900.0 60"


def test_every_variable_the_settings_read_is_in_env_example_and_the_readme():
    source = (BASE_DIR / "gathr_connector" / "settings.py").read_text()
    names = set(re.findall(r'(?:env\.\w+|_number|_required_in_production)\(\s*"([A-Z][A-Z0-9_]+)"', source))
    assert len(names) >= 25, names
    example = (BASE_DIR / ".env.example").read_text()
    readme = (BASE_DIR / "README.md").read_text()
    missing_example = sorted(name for name in names if not re.search(rf"^#? ?{name}=", example, re.MULTILINE))
    missing_readme = sorted(name for name in names if f"`{name}`" not in readme)
    assert missing_example == [] and missing_readme == []


def test_the_production_settings_answer_a_database_outage_with_their_own_middleware():
    code = "import django; django.setup(); from django.conf import settings; print(*settings.MIDDLEWARE)"
    started = run(["-c", code])
    assert started.returncode == 0, started.stderr
    middleware = started.stdout.split()
    authentication = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    assert middleware[authentication + 1] == "gathr_connector.middleware.DatabaseUnavailableMiddleware"
