"""The https_live_server fixture: the app over TLS under issuer.gathr.test, reachable by the app's own guarded
session (through the resolver) and by the simulator's Entra, sharing the test database."""

import ipaddress
import re

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from connections.dynamics import guard, http
from tests.helpers import USER_PASSWORD

LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


def guarded_get(simulator, url, **kwargs):
    """GET through the app's outbound guard (names from the resolver fixture), trusting the simulator's CA."""
    session = http.private_session()
    try:
        with guard.allowing(LOOPBACK):
            return session.request(url=url, verify=simulator.ca_cert_path, timeout=5, **kwargs)
    finally:
        session.close()


@pytest.fixture
def ssl_redirect(settings):
    """Plain-http requests would be redirected to https (SecurityMiddleware reads this when the server starts)."""
    settings.SECURE_SSL_REDIRECT = True


def test_it_serves_the_app_over_https_under_its_host_name(ssl_redirect, https_live_server, simulator):
    assert https_live_server.url == f"https://issuer.gathr.test:{https_live_server.port}"
    assert https_live_server.host == "issuer.gathr.test"
    page = guarded_get(simulator, https_live_server.url + "/accounts/login/", method="GET")
    assert page.status_code == 200 and 'name="csrfmiddlewaretoken"' in page.text  # no redirect: Django saw https


def test_it_shares_the_test_database(https_live_server, simulator, user, fast_password_hashing):
    user.set_password(USER_PASSWORD)
    user.save()
    login = https_live_server.url + "/accounts/login/"
    session = http.private_session()
    with guard.allowing(LOOPBACK):
        page = session.get(login, verify=simulator.ca_cert_path, timeout=5)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        signed_in = session.post(
            login,
            data={"csrfmiddlewaretoken": token, "username": user.username, "password": USER_PASSWORD},
            headers={"Referer": login},  # Django checks the Referer of a secure POST: this one is https
            verify=simulator.ca_cert_path,
            timeout=5,
            allow_redirects=False,
        )
    session.close()
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/connections/", signed_in.text[:500]


def test_the_simulators_entra_reaches_it_as_an_issuer(https_live_server, microsoft):
    # https_live_server comes first here: it must still route its name after microsoft resets the simulator
    sim = microsoft.sim
    sim.add_federated_credential(microsoft.app.client_id, https_live_server.url, "connection:1")
    now = int(sim.now())
    claims = {"iss": https_live_server.url, "sub": "connection:1", "aud": "api://AzureADTokenExchange"}
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assertion = jwt.encode({**claims, "nbf": now, "exp": now + 600}, key, algorithm="RS256", headers={"kid": "k1"})
    answer = guarded_get(
        sim,
        f"https://login.microsoftonline.com/{microsoft.tenant.tenant_id}/oauth2/v2.0/token",
        method="POST",
        data={
            "grant_type": "client_credentials",
            "client_id": microsoft.app.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": microsoft.env.url + ".default",
        },
    )
    assert answer.json()["error_codes"] == [50166]  # the app publishes no discovery document (yet)
    discovery = https_live_server.url + "/.well-known/openid-configuration"
    assert [(fetch.url, fetch.status) for fetch in sim.issuer_fetches] == [(discovery, 404)]
