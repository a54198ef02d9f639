"""The operator's limits for every TEST and sign-in step, read from settings at the moment they start."""

from django.conf import settings

from connections.dynamics.http import Limits


def test_limits() -> Limits:
    return Limits(
        total=settings.TEST_TOTAL_TIMEOUT,
        connect=settings.TEST_CONNECT_TIMEOUT,
        read=settings.TEST_READ_TIMEOUT,
        allowed_networks=tuple(settings.OUTBOUND_ALLOWED_NETWORKS),
        proxies=settings.OUTBOUND_PROXIES,
    )
