"""TEST of a Federated (no secret) connection, end to end: this site is the OpenID Connect issuer (served over https
on loopback), the simulator fetches its discovery document and JWKS as Entra ID does, checks the assertion msal
sends, and answers what Entra answers when the app registration's federated credential does not match."""

import pytest

from connections import secretless, testing
from connections.dynamics import entra
from connections.models import Connection

pytestmark = pytest.mark.django_db(transaction=True)
AUDIENCE = "api://AzureADTokenExchange"


@pytest.fixture
def issuer_site(https_live_server, settings):
    settings.SITE_URL = https_live_server.url + "/"
    return https_live_server


@pytest.fixture
def federated(microsoft, issuer_site, admin_user):
    connection = Connection(
        name="Contoso federated",
        client_id=microsoft.app.client_id,
        url=microsoft.env.url,
        azure_tenant=microsoft.tenant.tenant_id,
        credential_type="federated",
        federated_subject=secretless.new_subject(),
        owner=admin_user,
    )
    connection.save()
    return connection


def register(microsoft, connection, *, issuer=None, subject=None, audience=AUDIENCE):
    return microsoft.sim.add_federated_credential(
        microsoft.app.client_id,
        issuer=issuer if issuer is not None else secretless.federated_credential(connection).issuer,
        subject=subject or connection.federated_subject,
        audiences=(audience,),
    )


def test_it_signs_in_with_no_secret_once_the_app_trusts_this_sites_issuer(microsoft, federated, issuer_site):
    register(microsoft, federated)
    result = testing.test_saved(federated)
    assert result.ok, result.summary
    assert result.message.startswith("Connection available")
    expiry = next(step for step in result.steps if step.key == "expiry")
    assert (expiry.status, expiry.detail) == (
        "skipped",
        "a federated credential has no secret or certificate that expires",
    )
    fetched = [fetch.url for fetch in microsoft.sim.issuer_fetches]
    assert fetched[:2] == [
        f"{issuer_site.url}/.well-known/openid-configuration",
        f"{issuer_site.url}/.well-known/jwks.json",
    ]
    federated.refresh_from_db()
    assert federated.last_test_status == "available" and federated.client_secret_encrypted == ""


def test_a_second_test_uses_the_token_msal_keeps(microsoft, federated):
    register(microsoft, federated)
    assert testing.test_saved(federated).ok
    microsoft.sim.clear_requests()
    assert testing.test_saved(federated).ok
    assert microsoft.sim.count(host="login.microsoftonline.com") == 0


def test_it_names_the_subject_when_no_federated_credential_has_it(microsoft, federated):
    register(microsoft, federated, subject=secretless.new_subject())
    result = testing.test_saved(federated)
    assert (result.ok, result.code) == (False, "federated_subject_mismatch")
    assert "AADSTS70021" in result.message and federated.federated_subject in result.message
    assert f"Subject identifier {federated.federated_subject}" in result.hint


def test_it_names_the_issuer_when_it_differs(microsoft, federated, issuer_site):
    register(microsoft, federated, issuer=issuer_site.url + "/")  # a trailing slash is another issuer
    result = testing.test_saved(federated)
    assert (result.code, "AADSTS700211" in result.message) == ("federated_issuer_mismatch", True)
    assert f"Issuer {issuer_site.url} (character for character" in result.hint


def test_it_names_the_audience_when_it_differs(microsoft, federated):
    register(microsoft, federated, audience="api://AzureADTokenExchangeUSGov")
    result = testing.test_saved(federated)
    assert (result.code, "AADSTS700212" in result.message) == ("federated_audience_mismatch", True)
    assert f"Audience {AUDIENCE}" in result.hint


@pytest.mark.parametrize(("offset", "state"), [(3600, "expired"), (-3600, "not yet valid")])
def test_it_says_whether_the_assertion_was_expired_or_not_yet_valid(microsoft, federated, offset, state):
    register(microsoft, federated)
    microsoft.sim.clock = offset  # Entra ID's clock an hour away from this server's
    result = testing.test_saved(federated)
    assert result.code == "federated_assertion_time"
    assert f"assertion {state} at" in result.message and "AADSTS700024" in result.message
    assert "NTP" in result.hint


@pytest.mark.parametrize(
    ("site", "said"),
    [
        ("https://unreachable.gathr.test", ("over https from the internet",)),  # no route: Entra cannot fetch
        ("http://127.0.0.1:8000", ("must start with https:", "127.0.0.1 is a loopback address")),  # and why
    ],
)
def test_it_says_when_entra_cannot_fetch_this_sites_keys(microsoft, federated, settings, site, said):
    settings.SITE_URL = site
    register(microsoft, federated, issuer=site)
    result = testing.test_saved(federated)
    assert result.code == "federated_keys_unreachable"
    assert f"{site}/.well-known/openid-configuration" in result.message and "AADSTS50166" in result.message
    assert all(part in result.hint for part in said), result.hint


def test_it_needs_site_url(microsoft, federated, settings):
    settings.SITE_URL = ""
    result = testing.test_saved(federated)
    assert result.code == "federation_not_configured"
    assert microsoft.sim.count(host="login.microsoftonline.com") == 0


def test_a_new_connection_form_tests_the_subject_it_shows(admin_client, microsoft, issuer_site):
    import re

    from tests.helpers import form_data

    page = admin_client.get("/connections/new/").content.decode()
    subject = re.search(r'id="federated-subject"[^>]*value="([^"]+)"', page).group(1)
    token = re.search(r'name="federated_subject_token" value="([^"]+)"', page).group(1)
    microsoft.sim.add_federated_credential(
        microsoft.app.client_id, issuer=issuer_site.url, subject=subject, audiences=(AUDIENCE,)
    )
    data = form_data(
        action="test",
        credential_type="federated",
        client_secret="",
        federated_subject_token=token,
        client_id=microsoft.app.client_id,
        azure_tenant=microsoft.tenant.tenant_id,
        url=microsoft.env.url,
    )
    answer = admin_client.post("/connections/new/", data, HTTP_ACCEPT="application/json").json()
    assert answer["ok"] is True, answer["message"]


def test_a_signing_key_rotation_keeps_connections_working_while_entra_caches_the_old_keys(microsoft, federated):
    """The next key is published before it signs: Entra ID's cached JWKS already holds it after a rotation."""
    from federation import keyring, rotation
    from federation.models import SigningKey

    register(microsoft, federated)
    microsoft.sim.federation_cache_seconds = 3600  # Entra ID keeps the issuer's keys: no fetch after the first
    assert testing.test_saved(federated).ok
    rotation.rotate(force=True)
    keyring.forget_signer()  # this process signs with the new current key at once (other processes within a minute)
    entra.apps.clear()  # msal's cached token would spare the TEST an assertion
    result = testing.test_saved(federated)
    assert result.ok, result.summary
    assert len(microsoft.sim.issuer_fetches) == 2  # discovery and JWKS, once: the new key was in the cached JWKS

    # A key that was never published before it signs is refused while Entra ID's cache lasts.
    SigningKey.objects.all().delete()
    keyring.forget_signer()
    entra.apps.clear()
    refused = testing.test_saved(federated)
    assert refused.code == "federated_signature_refused", refused.summary
    assert "right after a signing key rotation" in refused.hint
