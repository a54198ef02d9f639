"""How a few settings are built from their raw values, and refused at start when they are wrong
(gathr_connector/settings.py reads the environment and calls these)."""

import ipaddress
import os
import tempfile
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from connections.dynamics import proxy
from federation import keys as federation_keys


def fernet_keys(keys: list[str]) -> list[str]:
    """The keys, each checked to be a Fernet key."""
    for key in keys:
        try:
            Fernet(key.encode())
        except ValueError:
            raise ImproperlyConfigured(
                "FIELD_ENCRYPTION_KEY must be comma-separated Fernet keys (32 url-safe base64-encoded bytes "
                "each, as Fernet.generate_key() makes)."
            ) from None
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is empty.")
    return keys


def signing_key_files(paths: list[str]) -> list[str]:
    """FEDERATION_SIGNING_KEYS: each file an unencrypted RSA private key of 2048 bits or more (the message names
    the file, never the key)."""
    paths = [path.strip() for path in paths if path.strip()]
    for path in paths:
        try:
            federation_keys.load_file(path)
        except federation_keys.KeyFileError as err:
            raise ImproperlyConfigured(f"FEDERATION_SIGNING_KEYS: {err}.") from None
    return paths


def mailer(config: dict, timeout: float) -> dict:
    """Django's MAILERS entry for django-environ's EMAIL_URL config."""
    backend = config["EMAIL_BACKEND"]
    if backend == "django.core.mail.backends.smtp.EmailBackend":
        options = {
            "host": config.get("EMAIL_HOST") or "localhost",
            "port": config.get("EMAIL_PORT"),  # None: smtplib's default, 25 (465 for SSL)
            "username": config.get("EMAIL_HOST_USER") or "",
            "password": config.get("EMAIL_HOST_PASSWORD") or "",
            "use_tls": bool(config.get("EMAIL_USE_TLS")),
            "use_ssl": bool(config.get("EMAIL_USE_SSL")),
            "timeout": timeout,
        }
    elif backend == "django.core.mail.backends.filebased.EmailBackend":
        options = {"file_path": config["EMAIL_FILE_PATH"]}
    else:
        options = {}
    return {"BACKEND": backend, "OPTIONS": options}


def networks(value: list[str], name: str = "OUTBOUND_ALLOWED_NETWORKS") -> list:
    """CIDRs from the environment's list, refused at start when one is not a network."""
    try:
        return [ipaddress.ip_network(item.strip(), strict=False) for item in value if item.strip()]
    except ValueError as err:
        raise ImproperlyConfigured(f"{name}: {err}") from err


def outbound_proxies(own: str, own_no_proxy: list[str]) -> proxy.Proxies | None:
    """OUTBOUND_PROXY for every target (OUTBOUND_NO_PROXY bypassing it), or else the environment's HTTPS_PROXY,
    HTTP_PROXY, ALL_PROXY and NO_PROXY read as requests reads them (lower case first); None: no proxy."""
    try:
        if own.strip():
            chosen = proxy.parse(own, "OUTBOUND_PROXY")
            return proxy.Proxies(chosen, chosen, proxy.no_proxy_entries(own_no_proxy, "OUTBOUND_NO_PROXY"))
        found = urllib.request.getproxies_environment()
        https, http = found.get("https") or found.get("all"), found.get("http") or found.get("all")
        if not (https or http):
            return None
        return proxy.Proxies(
            proxy.parse(https, "HTTPS_PROXY", default_scheme="http") if https else None,
            proxy.parse(http, "HTTP_PROXY", default_scheme="http") if http else None,
            proxy.no_proxy_entries(found.get("no", "").split(","), "NO_PROXY"),
        )
    except ValueError as err:
        raise ImproperlyConfigured(str(err)) from None


def huey(url: str, workers: int) -> dict:
    """Huey's settings for the queue at `url`: the same task code runs on either storage."""
    common = {"name": "gathr-connector", "immediate": False, "results": False, "utc": True}
    # An idle worker thread looks at the SQLite queue every 0.05 s at most (an indexed read; Redis wakes it at
    # once): a warm TEST is mostly its one Dataverse round trip, not the wait for a worker.
    consumer = {"workers": workers, "worker_type": "thread", "initial_delay": 0.02, "max_delay": 0.05, "verbose": False}
    scheme = url.partition("://")[0]
    if scheme == "sqlite":
        path = url.removeprefix("sqlite:///")
        if not path or path == url:
            raise ImproperlyConfigured("TASK_QUEUE_URL: write sqlite:////absolute/path/tasks.sqlite3.")
        return {**common, "huey_class": "huey.SqliteHuey", "filename": path, "strict_fifo": True, "consumer": consumer}
    if scheme in ("redis", "rediss"):
        # Fail fast when Redis is down or hung: a TEST then says it cannot start, the pages go on answering.
        # (redis-py reads these from the URL; Huey refuses a URL and connection parameters together.)
        timeouts = "socket_connect_timeout=1&socket_timeout=5"
        url = f"{url}{'&' if '?' in url else '?'}{timeouts}"
        return {**common, "huey_class": "huey.PriorityRedisHuey", "url": url, "consumer": consumer}
    raise ImproperlyConfigured(f"TASK_QUEUE_URL must start with sqlite:/// or redis://, not {scheme or url!r}.")


def ends_before_web_timeout(name: str, seconds: float, web_timeout: float, why: str) -> None:
    """Work that runs in a request (`name`, `seconds`) must end before gunicorn kills the web worker."""
    if seconds >= web_timeout:
        raise ImproperlyConfigured(
            f"{name} ({seconds:g} s) must be less than WEB_TIMEOUT ({web_timeout:g} s), the web worker's timeout: "
            f"{why}."
        )


def logging(level: str) -> dict:
    """Plain lines on the console; urllib3 logs full URLs and msal request bodies at DEBUG: they stay quiet."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {name: {"level": "WARNING"} for name in ("urllib3", "msal", "axes", "huey")},
    }


def database(settings: dict, *, conn_max_age: int, sqlite_busy_timeout: float) -> dict:
    """DATABASE_URL's database, with the options this app relies on."""
    settings.setdefault("CONN_MAX_AGE", conn_max_age)
    settings["CONN_HEALTH_CHECKS"] = True
    if settings["ENGINE"] == "django.db.backends.postgresql":
        settings.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    elif settings["ENGINE"] == "django.db.backends.sqlite3":
        # Threads (gunicorn's, and the tests') wait up to SQLITE_BUSY_TIMEOUT for each other's writes instead of
        # failing. IMMEDIATE: a transaction takes the write lock when it begins; a deferred one (SQLite's default)
        # that read first and then writes cannot wait for the lock and fails at once with "database is locked"
        # (django-axes counting a wrong password does just that; tests/test_concurrent_writes.py).
        # WAL lets readers go on while one writes. Tests use a file too: an in-memory shared cache
        # fails concurrent access with "table is locked" instead of waiting.
        settings.setdefault("OPTIONS", {}).update(
            timeout=sqlite_busy_timeout, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL;"
        )
        test_file = Path(tempfile.gettempdir()) / f"gathr-test-{os.getpid()}.sqlite3"
        settings.setdefault("TEST", {}).setdefault("NAME", str(test_file))
    return settings
