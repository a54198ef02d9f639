"""RSA signing keys as this issuer publishes them: generation, PEM, the public JWK and its RFC 7638 thumbprint.

Plain Python (cryptography and PyJWT): the settings check FEDERATION_SIGNING_KEYS with it before Django is set up.
"""

import base64
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ALGORITHM = "RS256"
KEY_SIZE = 2048
MIN_KEY_SIZE = 2048


class KeyFileError(Exception):
    """A PEM file of FEDERATION_SIGNING_KEYS cannot sign (the message names the file, never the key)."""


def generate() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def to_pem(private_key: rsa.RSAPrivateKey) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def from_pem(pem: str | bytes) -> rsa.RSAPrivateKey:
    """An unencrypted RSA private key of at least MIN_KEY_SIZE bits; ValueError or TypeError otherwise."""
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("not an RSA key")
    if key.key_size < MIN_KEY_SIZE:
        raise ValueError(f"an RSA key of {key.key_size} bits (at least {MIN_KEY_SIZE} are needed)")
    return key


def public_jwk(private_key: rsa.RSAPrivateKey) -> dict:
    """The public key as JWKS publishes it: kty, n, e, kid (its thumbprint), alg and use."""
    jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    core = {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}
    return {**core, "kid": thumbprint(core), "alg": ALGORITHM, "use": "sig"}


def thumbprint(jwk: dict) -> str:
    """RFC 7638: SHA-256 of the required members (e, kty, n) in lexicographic order, no whitespace, base64url."""
    members = json.dumps({name: jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()


def load_file(path: str) -> rsa.RSAPrivateKey:
    """The private key of a PEM file; KeyFileError says why it cannot sign."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise KeyFileError(f"{path} cannot be read ({err.strerror or type(err).__name__})") from None
    if b"BEGIN ENCRYPTED PRIVATE KEY" in data or b"Proc-Type: 4,ENCRYPTED" in data:
        raise KeyFileError(f"{path} is encrypted: give an unencrypted PEM file, readable only by this application")
    try:
        return from_pem(data)
    except TypeError:
        raise KeyFileError(f"{path} is not an RSA private key") from None
    except ValueError as err:
        reason = str(err) if str(err).startswith("an RSA key of") else "not a PEM private key"
        raise KeyFileError(f"{path} cannot sign: {reason}") from None
