"""The outbound proxy's rules: which URLs go through it (NO_PROXY), how its URL is read, and where it never shows."""

import pytest

from connections.dynamics import proxy

CORPORATE = proxy.ProxyURL("http", "proxy.corp", 3128, "svc", "hunter2")


@pytest.mark.parametrize(
    ("url", "through"),
    [
        ("https://login.microsoftonline.com/common/", True),
        ("https://contoso.crm.dynamics.com/api/data/v9.2/", True),
        ("http://crm.contoso.local/Contoso/", False),  # .contoso.local
        ("https://contoso.local/", False),  # the domain itself, like requests
        ("https://notcontoso.local/", True),
        ("http://10.20.3.4/Contoso/", False),  # in 10.20.0.0/16
        ("http://10.21.3.4/Contoso/", True),
        ("https://adfs.corp:8443/adfs", False),  # adfs.corp:8443
        ("https://adfs.corp/adfs", True),  # another port
        ("http://[fd00::7]/", False),  # fd00::/8
        ("https://[2001:db8::1]/", False),
        ("http://[2001:db8::1]/", True),
    ],
)
def test_no_proxy_names_the_hosts_that_go_direct(url, through):
    entries = proxy.no_proxy_entries(
        [".contoso.local", "10.20.0.0/16", "adfs.corp:8443", "fd00::/8", "[2001:db8::1]:443"], "NO_PROXY"
    )
    proxies = proxy.Proxies(CORPORATE, CORPORATE, entries)
    assert (proxies.for_url(url) is CORPORATE) is through


def test_a_star_sends_everything_direct_and_each_scheme_has_its_proxy():
    assert proxy.Proxies(CORPORATE, CORPORATE, proxy.no_proxy_entries(["*"], "NO_PROXY")).for_url("https://x/") is None
    only_https = proxy.Proxies(https=CORPORATE)
    assert only_https.for_url("https://x.example/") is CORPORATE and only_https.for_url("http://x.example/") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://proxy.corp:3128", ("http", "proxy.corp", 3128, "", "")),
        ("https://proxy.corp", ("https", "proxy.corp", 443, "", "")),
        ("http://proxy.corp", ("http", "proxy.corp", 80, "", "")),
        ("http://svc%40corp:p%3Ass@proxy.corp:8080/", ("http", "proxy.corp", 8080, "svc@corp", "p:ss")),
        ("http://[fd00::3]:3128", ("http", "fd00::3", 3128, "", "")),
    ],
)
def test_it_reads_a_proxy_url(text, expected):
    read = proxy.parse(text, "OUTBOUND_PROXY")
    assert (read.scheme, read.host, read.port, read.username, read.password) == expected


def test_the_proxy_shows_without_its_password_and_sends_it_percent_encoded():
    read = proxy.parse("http://svc:p%3Ass%40@proxy.corp:3128", "OUTBOUND_PROXY")
    assert read.display == "http://proxy.corp:3128"
    assert "p:ss@" not in repr(read) and "p%3A" not in repr(read) and "svc" in repr(read)
    assert read.url() == "http://svc:p%3Ass%40@proxy.corp:3128"


def test_a_url_without_scheme_is_http_only_where_requests_reads_it_so():
    assert proxy.parse("proxy.corp:8080", "HTTPS_PROXY", default_scheme="http").display == "http://proxy.corp:8080"
    with pytest.raises(ValueError, match="must start with http:// or https://"):
        proxy.parse("proxy.corp:8080", "OUTBOUND_PROXY")


def test_scrub_hides_the_credentials_of_any_url_in_a_text():
    text = "Unable to connect to proxy http://svc:hunter2@proxy.corp:3128/ and https://a:b@c.example/x"
    assert proxy.scrub(text) == "Unable to connect to proxy http://***@proxy.corp:3128/ and https://***@c.example/x"
