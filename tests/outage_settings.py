"""The project's settings with the database-outage middleware, for the app server the outage tests start.

Until gathr_connector/settings.py lists DatabaseUnavailableMiddleware itself; then this adds nothing.
"""

from gathr_connector.settings import *  # noqa: F403
from gathr_connector.settings import MIDDLEWARE

OUTAGE_MIDDLEWARE = "gathr_connector.middleware.DatabaseUnavailableMiddleware"
AFTER = "django.contrib.auth.middleware.AuthenticationMiddleware"


def with_outage_middleware(middleware: list[str]) -> list[str]:
    """MIDDLEWARE with DatabaseUnavailableMiddleware right after AuthenticationMiddleware (once)."""
    if OUTAGE_MIDDLEWARE in middleware:
        return list(middleware)
    position = middleware.index(AFTER) + 1
    return [*middleware[:position], OUTAGE_MIDDLEWARE, *middleware[position:]]


MIDDLEWARE = with_outage_middleware(MIDDLEWARE)
