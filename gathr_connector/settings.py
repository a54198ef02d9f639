"""Settings for the Dynamics CRM connector. Every value comes from the environment (see README)."""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from gathr_connector import setting_values
from gathr_connector.keys import local_key, new_fernet_key, new_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = BASE_DIR / ".local"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

APP_ENV = env.str("APP_ENV", default="development")
if APP_ENV not in ("development", "production"):
    raise ImproperlyConfigured("APP_ENV must be 'development' or 'production'.")
PRODUCTION = APP_ENV == "production"

DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when APP_ENV=production.")


def _number(name: str, default: float, *, low: float, high: float, cast=float, unit: str = "seconds"):
    """A number from the environment; refused at start unless low < value <= high."""
    text = env.str(name, default=str(default)).strip()
    try:
        value = cast(text)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of {unit}, not {text!r}.") from None
    if not low < value <= high:
        raise ImproperlyConfigured(f"{name} must be more than {low:g} and at most {high:g} {unit}, not {text}.")
    return value


def _required_in_production(name: str, make) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when APP_ENV=production.")
    return local_key(LOCAL_DIR / name.lower(), make)


SECRET_KEY = _required_in_production("SECRET_KEY", new_secret_key)
# Comma-separated Fernet keys, newest first: the first encrypts, all decrypt.
FIELD_ENCRYPTION_KEY = [
    key.strip() for key in _required_in_production("FIELD_ENCRYPTION_KEY", new_fernet_key).split(",") if key.strip()
]


FIELD_ENCRYPTION_KEY = setting_values.fernet_keys(FIELD_ENCRYPTION_KEY)
DEFAULT_EXCEPTION_REPORTER_FILTER = "gathr_connector.reporting.AlwaysCleansingFilter"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Its ready() lets an index take an operator class on an expression (OpClass: migration 0007's search indexes).
    "django.contrib.postgres",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "huey.contrib.djhuey",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI's files, vendored: the API's docs work with no internet and under our Content Security Policy.
    "drf_spectacular_sidecar",
    "connections",
    "marketplace",
    "audit",
    "federation",
    "api_tokens",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so that static files carry X-Frame-Options (found by the wapiti scan) and
    # Permissions-Policy too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gathr_connector.headers.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: pages are never stored (the back button after sign-out), static files may be.
    "gathr_connector.headers.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A database outage answers 503 with what to do, never a raw 500 (tests/test_database_outage.py).
    "gathr_connector.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its lockout page.
    "axes.middleware.AxesMiddleware",
]

# Sign-in throttling (django-axes): a user name from one address is locked out after AXES_FAILURE_LIMIT
# wrong passwords, for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = _number("AXES_FAILURE_LIMIT", 5, low=0, high=1000, cast=int, unit="wrong passwords")
AXES_COOLOFF_TIME = timedelta(minutes=_number("AXES_COOLOFF_MINUTES", 15, low=0, high=10080, cast=int, unit="minutes"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The client's address behind the reverse proxies in TRUSTED_PROXIES (see gathr_connector/client_ip.py).
AXES_CLIENT_IP_CALLABLE = "gathr_connector.client_ip.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["password", "client_secret", "certificate_password", "windows_password"]

ROOT_URLCONF = "gathr_connector.urls"
WSGI_APPLICATION = "gathr_connector.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "marketplace.context_processors.notifications",
            ],
        },
    },
    # The hot loops only, compiled to Python: the connection form's fields and the Connections page's rows
    # (docs/decisions/0002-rendering-hot-loops.md). Pages stay Django templates.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "gathr_connector.jinja2.environment"},
    },
]


DATABASES = {
    "default": setting_values.database(
        env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=_number("CONN_MAX_AGE", 60, low=-1, high=86400, cast=int),
        sqlite_busy_timeout=_number("SQLITE_BUSY_TIMEOUT", 20, low=0, high=300),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://"),
    # Each process's own, for one second: what the pages show of the connectors' trials and subscriptions
    # (marketplace.entitlements.shown_status). A change is seen at once by the process that made it.
    "process": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "process", "TIMEOUT": 1},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "connections:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=False)

# Email (notifications of the Connector Marketplace), as Django 6.1's MAILERS from one EMAIL_URL:
# consolemail:// prints them (development); smtp://localhost:25, Django's own default, hands them to the
# server's mail transfer agent (production); e.g. smtp+tls://user:password@smtp.example.com:587.
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Gathr <gathr@localhost>")
# A slow mail server must not hold a page for long: notifications are sent during the request.
_email_timeout = _number("EMAIL_TIMEOUT", 10, low=0, high=300)


_default_email_url = "smtp://localhost:25" if PRODUCTION else "consolemail://"
MAILERS = {"default": setting_values.mailer(env.email_url("EMAIL_URL", default=_default_email_url), _email_timeout)}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Uploads (certificates) are small; refuse large bodies early.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# Browser security.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    # "Sign in with Microsoft" posts here, then redirects to the cloud's sign-in page.
    "form-action": [
        CSP.SELF,
        "https://login.microsoftonline.com",
        "https://login.microsoftonline.us",
        "https://login.chinacloudapi.cn",
    ],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
# Browser features the app never uses, turned off for its pages and anything they might embed
# (gathr_connector/headers.py sends it: Django has no setting for this header).
PERMISSIONS_POLICY = {"camera": [], "microphone": [], "geolocation": [], "payment": [], "usb": []}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_HSTS_SECONDS = _number("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0, low=-1, high=63072000, cast=int)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = False
# Preloading is a deliberate, hard-to-undo choice per domain: `check --deploy` need not warn that it is off.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
# The OpenID Connect issuer's public documents (federation/views.py) answer a proxy that forgot X-Forwarded-Proto
# too, rather than redirect a verifier: they hold nothing secret. (SecurityMiddleware matches the path, prefix
# included, without its leading slash.)
SECURE_REDIRECT_EXEMPT = [r"(^|/)\.well-known/(openid-configuration|jwks\.json)$"]
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


# Reverse proxies in front of the app servers (nginx in deploy/: 127.0.0.1/32 when it runs on the same machine):
# behind them the sign-in lockout counts the address they saw, from X-Forwarded-For. Empty: X-Forwarded-For is
# ignored (nobody can spoof it).
TRUSTED_PROXIES = setting_values.networks(env.list("TRUSTED_PROXIES", default=[]), "TRUSTED_PROXIES")

# Outbound requests to admin-typed URLs (TEST).
OUTBOUND_ALLOWED_NETWORKS = setting_values.networks(env.list("OUTBOUND_ALLOWED_NETWORKS", default=[]))
# The proxy every outbound call of TEST, sign-in, Check access and Preview goes through: OUTBOUND_PROXY (with the
# hosts in OUTBOUND_NO_PROXY going direct), else HTTPS_PROXY / HTTP_PROXY / NO_PROXY as requests reads them. Only
# the parsed form is kept (its repr hides the password), never the URL with its credentials.
OUTBOUND_PROXIES = setting_values.outbound_proxies(
    env.str("OUTBOUND_PROXY", default=""), env.list("OUTBOUND_NO_PROXY", default=[])
)
# The web worker's timeout (gunicorn's --timeout: `make run` passes the same variable). A TEST that runs in a
# request must end before the worker is killed, or the admin gets no answer at all.
WEB_TIMEOUT = _number("WEB_TIMEOUT", 60, low=0, high=3600)
TEST_TOTAL_TIMEOUT = _number("TEST_TOTAL_TIMEOUT", 30, low=0, high=300)
# Finished TESTs are kept this long for the connection page's history, then pruned every night.
TEST_HISTORY_DAYS = _number("TEST_HISTORY_DAYS", 90, low=0, high=3650, cast=int, unit="days")
# A connection is Down after this many failed TESTs in a row (one blip alerts nobody), Up after one good TEST.
HEALTH_DOWN_AFTER = _number("HEALTH_DOWN_AFTER", 2, low=0, high=100, cast=int, unit="failed TESTs")
# Scheduled re-tests (connections/schedule.py): every saved connection once per interval, starting within ±JITTER
# percent of it, at most CONCURRENCY scheduled TESTs at once across every worker (the rest of TEST_WORKERS stay
# free for people); 0 minutes: none. A Dataverse budget below RESERVE percent (or a 429's Retry-After) puts a
# connection's next scheduled TEST back: the integration's own requests come first.
SCHEDULED_TEST_INTERVAL = _number("SCHEDULED_TEST_INTERVAL", 60, low=-1, high=7 * 24 * 60, cast=int, unit="minutes")
SCHEDULED_TEST_JITTER = _number("SCHEDULED_TEST_JITTER", 10, low=-1, high=50, cast=int, unit="percent")
SCHEDULED_TEST_CONCURRENCY = _number("SCHEDULED_TEST_CONCURRENCY", 4, low=0, high=64, cast=int, unit="TESTs")
SERVICE_PROTECTION_RESERVE = _number("SERVICE_PROTECTION_RESERVE", 20, low=-1, high=100, cast=int, unit="percent")
# A TEST asks Microsoft Graph when the app credential expires only when its last reading is older than this.
CREDENTIAL_EXPIRY_REFRESH_HOURS = _number(
    "CREDENTIAL_EXPIRY_REFRESH_HOURS", 24, low=0, high=24 * 365, cast=int, unit="hours"
)
# The Connections list draws each row's last TESTs (of the saved settings) as a sparkline of this many bars.
LIST_SPARKLINE_TESTS = _number("LIST_SPARKLINE_TESTS", 10, low=0, high=50, cast=int, unit="TESTs")
TEST_CONNECT_TIMEOUT = _number("TEST_CONNECT_TIMEOUT", 5, low=0, high=TEST_TOTAL_TIMEOUT)
TEST_READ_TIMEOUT = _number("TEST_READ_TIMEOUT", 15, low=0, high=TEST_TOTAL_TIMEOUT)
setting_values.ends_before_web_timeout(
    "TEST_TOTAL_TIMEOUT",
    TEST_TOTAL_TIMEOUT,
    WEB_TIMEOUT,
    "a TEST would otherwise outlive the request that waits for it",
)
# Preview (connections/table_preview.py) runs in the web request, so its own budget must end before the worker's.
PREVIEW_TIMEOUT = _number("PREVIEW_TIMEOUT", 10, low=0, high=120)
setting_values.ends_before_web_timeout(
    "PREVIEW_TIMEOUT", PREVIEW_TIMEOUT, WEB_TIMEOUT, "a preview runs in the request that waits for it"
)
PREVIEW_RATE_PER_USER = _number("PREVIEW_RATE_PER_USER", 6, low=0, high=10000, cast=int, unit="previews a minute")
# Abuse limits (per minute); the counters live in CACHE_URL's cache (Redis in production).
TEST_RATE_PER_USER = _number("TEST_RATE_PER_USER", 20, low=0, high=100000, cast=int, unit="TESTs a minute")
TEST_RATE_PER_HOST = _number("TEST_RATE_PER_HOST", 30, low=0, high=100000, cast=int, unit="TESTs a minute")

# Background TESTs (Huey; docs/decisions/0001-task-engine.md). One machine: a SQLite file beside the database, no
# extra service. Several machines: Redis (redis://host:6379/1), shared by every app server and worker.
TASK_QUEUE_URL = env.str("TASK_QUEUE_URL", default=f"sqlite:///{BASE_DIR / 'tasks.sqlite3'}")
# A TEST mostly waits on the network: 16 threads let 16 silent servers time out while other TESTs still run.
TEST_WORKERS = _number("TEST_WORKERS", 16, low=0, high=64, cast=int, unit="threads")

# This site as an OpenID Connect issuer at SITE_URL (workload identity federation; federation/issuer.py).
# An assertion's lifetime: Entra ID accepts at most 10 minutes.
FEDERATED_ASSERTION_LIFETIME = _number("FEDERATED_ASSERTION_LIFETIME", 300, low=59, high=600, cast=int)
# PEM files of RSA private keys, comma-separated: the first signs, all are published; the database's keys then
# are not used. Empty: keys generated, stored encrypted and rotated by the application.
FEDERATION_SIGNING_KEYS = setting_values.signing_key_files(env.list("FEDERATION_SIGNING_KEYS", default=[]))
# A next key is published this long before it may sign (Entra ID caches an issuer's keys).
FEDERATION_KEY_PUBLISH_AHEAD = _number("FEDERATION_KEY_PUBLISH_AHEAD", 3600, low=-1, high=30 * 86400, cast=int)
# The worker rotates the database's current key when it is this old; 0: only by hand (manage.py rotate_signing_key).
FEDERATION_KEY_ROTATION_DAYS = _number("FEDERATION_KEY_ROTATION_DAYS", 90, low=-1, high=3650, cast=int, unit="days")

# The REST API under /api/v1/ (api/defaults.py; docs/decisions/0015-rest-api.md).
from api.defaults import REST_FRAMEWORK, SPECTACULAR_SETTINGS  # noqa: E402, F401

HUEY = setting_values.huey(TASK_QUEUE_URL, TEST_WORKERS)

LOGGING = setting_values.logging(env.str("LOG_LEVEL", default="INFO"))
