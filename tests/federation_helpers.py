"""What the OpenID Connect issuer's tests (tests/test_federation_*.py) share: verifying an assertion as Entra ID does,
and reading or ageing the signing keys."""

import threading
from datetime import timedelta

import jwt
from django.db import connection

from federation.models import SigningKey
from tests.federation_fixtures import SITE

DISCOVERY, JWKS = "/.well-known/openid-configuration", "/.well-known/jwks.json"
AUDIENCE = "api://AzureADTokenExchange"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def verify(token: str, jwks_document: dict, audience: str = AUDIENCE) -> dict:
    """As Entra ID does: the key named by the header's kid in the issuer's JWKS, RS256 only, iss and aud checked."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks_document)[kid]
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=SITE)


HOUR = timedelta(hours=1)


def states() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for kid, state in SigningKey.objects.order_by("created_at").values_list("kid", "state"):
        found.setdefault(state, []).append(kid)
    return found


def age_keys(by: timedelta) -> None:
    """As if the keys had been created (and the current one activated) `by` ago."""
    for row in SigningKey.objects.all():
        row.created_at -= by
        row.activated_at = row.activated_at and row.activated_at - by
        row.save()


def in_threads(count: int, work) -> list:
    results, errors = [None] * count, []

    def run(index: int) -> None:
        try:
            results[index] = work()
        except Exception as error:  # noqa: BLE001 - the test reports any
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results
