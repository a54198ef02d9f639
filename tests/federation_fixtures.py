"""Fixtures for the OpenID Connect issuer (federation/), for every test: each starts with no signing key loaded in
the process (the keyring reuses one for a minute, which would outlive a test's database)."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from federation import keyring

SITE = "https://connectors.example.com"


@pytest.fixture(autouse=True)
def no_signer_loaded():
    keyring.forget_signer()
    keyring.settings_keys.cache_clear()
    yield
    keyring.forget_signer()
    keyring.settings_keys.cache_clear()


@pytest.fixture
def site(settings):
    """This site at a public https address, as in production."""
    settings.SITE_URL = SITE
    return SITE


@pytest.fixture
def pem_file(tmp_path):
    """pem_file(name, kind="rsa", bits=2048) writes a private key file and returns (path, key)."""

    def write(name: str, kind: str = "rsa", bits: int = 2048):
        key = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else rsa.generate_private_key(65537, bits)
        data = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path = tmp_path / name
        path.write_bytes(data)
        return str(path), key

    return write
