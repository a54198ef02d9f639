"""settings.py plus the changes the security review proposes and settings.py does not have yet.

The tests' app server (tests/test_database_outage.py) and the scanner's second run (bench/scan.py --pending)
use it. Each change is idempotent: once settings.py makes it, it changes nothing, and this module can go.
"""

from gathr_connector.settings import *  # noqa: F403
from gathr_connector.settings import MIDDLEWARE

OUTAGE = "gathr_connector.middleware.DatabaseUnavailableMiddleware"
AUTHENTICATION = "django.contrib.auth.middleware.AuthenticationMiddleware"
FRAME_OPTIONS = "django.middleware.clickjacking.XFrameOptionsMiddleware"
SECURITY = "django.middleware.security.SecurityMiddleware"


def with_pending_middleware(middleware: list[str]) -> list[str]:
    """MIDDLEWARE as proposed: the database-outage answer right after AuthenticationMiddleware, and X-Frame-Options
    right after SecurityMiddleware, before WhiteNoise, so that static files carry it too (wapiti: Clickjacking)."""
    changed = [name for name in middleware if name != FRAME_OPTIONS]
    changed.insert(changed.index(SECURITY) + 1, FRAME_OPTIONS)
    if OUTAGE not in changed:
        changed.insert(changed.index(AUTHENTICATION) + 1, OUTAGE)
    return changed


MIDDLEWARE = with_pending_middleware(MIDDLEWARE)
