"""What a TEST reads of Dataverse's service protection headers, and when that makes the schedule wait."""

from datetime import UTC, datetime, timedelta

from connections import service_protection
from connections.dynamics import protection

WEB_API = "https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def reading(burst=None, time=None, retry_after=None) -> protection.Reading:
    headers = {}
    if burst is not None:
        headers[protection.BURST_HEADER] = burst
    if time is not None:
        headers[protection.TIME_HEADER] = time
    return protection.read(headers, retry_after)


def test_the_headers_are_read_as_dataverse_writes_them():
    assert reading("5999", "1,199.99") == protection.Reading(5999, 1199.99, None)
    assert reading("many", "-3") == protection.Reading(None, None, None)


def test_the_summary_keeps_the_last_counts_and_the_longest_retry_after_of_the_web_api_only():
    seen = protection.summary(
        [
            ("https://login.microsoftonline.com/t/oauth2/v2.0/token", reading(retry_after=999)),
            (WEB_API, reading("5999", "1,199.99", retry_after=30)),
            ("https://contoso.crm.dynamics.com/api/data/v9.2/RetrieveVersion()", reading("5998", "1,199.98")),
        ]
    )

    assert seen["requests_left"] == 5998 and seen["seconds_left"] == 1199.98 and seen["retry_after"] == 30
    assert protection.summary([("https://onprem.contoso.com/XRMServices/2011/Organization.svc", reading())]) == {}


def test_a_retry_after_puts_the_next_scheduled_test_back_by_at_least_that_long():
    seen = protection.summary([(WEB_API, reading("5000", "1000", retry_after=120))])

    assert service_protection.wait_until(seen, NOW, 20) == NOW + timedelta(seconds=120)


def test_a_budget_below_the_reserve_waits_one_window_and_a_healthy_one_not_at_all():
    requests_low = protection.summary([(WEB_API, reading("1199", "1,199"))])  # 19.98% of 6,000
    time_low = protection.summary([(WEB_API, reading("5999", "239"))])  # 19.9% of 1,200 s
    healthy = protection.summary([(WEB_API, reading("1201", "241"))])

    assert service_protection.wait_until(requests_low, NOW, 20) == NOW + timedelta(seconds=300)
    assert service_protection.wait_until(time_low, NOW, 20) == NOW + timedelta(seconds=300)
    assert service_protection.wait_until(healthy, NOW, 20) is None
    assert service_protection.wait_until(requests_low, NOW, 0) is None  # a reserve of 0: never wait
    assert service_protection.wait_until({}, NOW, 20) is None
