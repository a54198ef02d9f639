"""This site as an OpenID Connect issuer (federation/): the discovery document and the JWKS Microsoft Entra ID
fetches, and the assertions a TEST sends as `client_assertion`, verified the way Entra ID verifies them."""

import json
import uuid

import jwt
import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from federation import issuer, keys
from federation.models import KeyState, SigningKey
from tests.federation_fixtures import SITE
from tests.federation_helpers import AUDIENCE, DISCOVERY, JWKS, PRIVATE_MEMBERS, verify

pytestmark = pytest.mark.django_db


def test_it_serves_the_discovery_document_to_anyone_without_signing_in(site):
    response = Client().get(DISCOVERY)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "issuer": SITE,
        "jwks_uri": f"{SITE}/.well-known/jwks.json",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["iss", "sub", "aud", "iat", "nbf", "exp", "jti"],
    }


@pytest.mark.parametrize("path", [DISCOVERY, JWKS])
def test_the_documents_are_public_cacheable_and_set_no_cookie(site, path):
    response = Client().get(path)
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=300"
    assert response.cookies == {}
    assert not Session.objects.exists()


@pytest.mark.parametrize("path", [DISCOVERY, JWKS])
def test_it_answers_head_and_refuses_other_methods(site, path):
    browser = Client(enforce_csrf_checks=True)
    assert browser.head(path).status_code == 200
    for method in ("post", "put", "delete"):
        assert getattr(browser, method)(path).status_code == 405, method


@pytest.mark.parametrize("site_url", ["https://connectors.example.com/", "https://connectors.example.com"])
def test_the_issuer_is_site_url_without_its_trailing_slash(settings, site_url):
    settings.SITE_URL = site_url
    assert issuer.issuer_url() == SITE
    assert Client().get(DISCOVERY).json()["issuer"] == SITE


@pytest.mark.parametrize("path", [DISCOVERY, JWKS])
def test_it_answers_404_with_a_problem_when_site_url_is_unset(settings, path):
    settings.SITE_URL = ""
    settings.ALLOWED_HOSTS = ["connectors.example.net"]
    response = Client().get(path, HTTP_HOST="connectors.example.net")
    assert response.status_code == 404
    assert response.json()["error"] == "issuer_not_configured"
    assert "SITE_URL is not set" in response.json()["message"]
    assert "example.net" not in response.content.decode()  # never an issuer guessed from the Host header
    assert not SigningKey.objects.exists()


def test_under_a_prefix_the_documents_follow_site_url_path(settings):
    settings.SITE_URL = "https://www.example.com/crm/"
    browser = Client()
    document = browser.get(DISCOVERY, SCRIPT_NAME="/crm").json()
    assert document["issuer"] == "https://www.example.com/crm"
    assert document["jwks_uri"] == "https://www.example.com/crm/.well-known/jwks.json"
    assert browser.get(JWKS, SCRIPT_NAME="/crm").status_code == 200


@pytest.mark.parametrize("script_name", ["", "/crm"])
def test_no_https_redirect_or_sign_in_stands_in_front_of_the_documents(settings, site, script_name):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    browser = Client()  # built after the settings change: its middleware reads them
    assert browser.get("/accounts/login/", SCRIPT_NAME=script_name).status_code == 301  # the redirect is on
    for path in (DISCOVERY, JWKS):
        assert browser.get(path, SCRIPT_NAME=script_name).status_code == 200, path
        assert browser.get(path, SCRIPT_NAME=script_name, HTTP_X_FORWARDED_PROTO="https").status_code == 200, path


def test_the_jwks_publishes_the_current_and_the_next_key_and_nothing_private(site):
    document = Client().get(JWKS).json()
    rows = {row.state: row for row in SigningKey.objects.all()}
    assert [key["kid"] for key in document["keys"]] == [rows[KeyState.CURRENT].kid, rows[KeyState.NEXT].kid]
    for key in document["keys"]:
        assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}
        assert (key["kty"], key["alg"], key["use"], key["e"]) == ("RSA", "RS256", "sig", "AQAB")
        assert key["kid"] == keys.thumbprint(key)
        assert jwt.PyJWK(key).key.key_size == 2048
    assert PRIVATE_MEMBERS.isdisjoint(json.loads(Client().get(JWKS).content)["keys"][0])


def test_the_kid_is_the_rfc_7638_thumbprint():
    # RFC 7638 section 3.1's example key and its thumbprint.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
        "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZ"
        "Hzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kE"
        "gU8awapJzKnqDKgw"
    )
    assert keys.thumbprint({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256"}) == (
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    )


def test_an_assertion_verifies_against_the_jwks_served(site):
    token = issuer.sign_assertion("connection:42", AUDIENCE)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": SigningKey.objects.get(state=KeyState.CURRENT).kid, "typ": "JWT"}
    claims = verify(token, Client().get(JWKS).json())
    assert claims["sub"] == "connection:42"


def test_an_assertion_does_not_verify_for_another_audience_or_with_another_key(site):
    token = issuer.sign_assertion("connection:42", AUDIENCE)
    with pytest.raises(jwt.InvalidAudienceError):
        verify(token, Client().get(JWKS).json(), audience="api://somebody-else")
    upcoming = SigningKey.objects.get(state=KeyState.NEXT)
    forged_header = {"keys": [{**upcoming.public_jwk, "kid": jwt.get_unverified_header(token)["kid"]}]}
    with pytest.raises(jwt.InvalidSignatureError):
        verify(token, forged_header)


def test_its_claims_are_those_entra_id_reads_and_it_lives_the_configured_lifetime(site, settings):
    settings.FEDERATED_ASSERTION_LIFETIME = 600
    first = jwt.decode(issuer.sign_assertion("connection:7", AUDIENCE), options={"verify_signature": False})
    second = jwt.decode(issuer.sign_assertion("connection:7", AUDIENCE), options={"verify_signature": False})
    assert set(first) == {"iss", "sub", "aud", "iat", "nbf", "exp", "jti"}
    assert (first["iss"], first["sub"], first["aud"]) == (SITE, "connection:7", AUDIENCE)  # aud a string
    assert first["nbf"] == first["iat"]
    assert first["exp"] - first["iat"] == 600
    assert uuid.UUID(first["jti"]).version == 4 and first["jti"] != second["jti"]


def test_an_assertion_lives_five_minutes_by_default(site):
    claims = jwt.decode(issuer.sign_assertion("connection:7", AUDIENCE), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 300


def test_it_refuses_to_sign_without_site_url(settings):
    settings.SITE_URL = ""
    with pytest.raises(issuer.IssuerNotConfiguredError, match="SITE_URL is not set"):
        issuer.sign_assertion("connection:7", AUDIENCE)
    assert isinstance(issuer.IssuerNotConfiguredError("x"), issuer.IssuerError)


def test_it_reuses_the_loaded_key_instead_of_decrypting_it_for_every_assertion(site, monkeypatch):
    from connections import crypto

    issuer.sign_assertion("connection:1", AUDIENCE)
    decrypted = []
    monkeypatch.setattr(crypto, "decrypt", lambda *args, **kwargs: decrypted.append(args))
    for number in range(5):
        issuer.sign_assertion(f"connection:{number}", AUDIENCE)
    assert decrypted == []


def test_a_lost_encryption_key_is_a_clear_error(site, settings):
    from cryptography.fernet import Fernet

    issuer.sign_assertion("connection:1", AUDIENCE)  # keys created under the configured key
    from federation import keyring

    keyring.forget_signer()
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    with pytest.raises(issuer.SigningKeyUnavailableError, match="FIELD_ENCRYPTION_KEY"):
        issuer.sign_assertion("connection:1", AUDIENCE)
