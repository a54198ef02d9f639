"""The issuer's private keys: stored only as Fernet ciphertext, re-encrypted by rotate_encryption_key, never in a
response, an admin page, a log line or an audit event. Keys from FEDERATION_SIGNING_KEYS instead of the database."""

import base64
from datetime import timedelta
from io import StringIO

import jwt
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import Client

from audit.models import AuditEvent
from connections import crypto
from federation import issuer, keyring, rotation
from federation.models import KeyState, SigningKey
from gathr_connector import setting_values
from tests.federation_helpers import AUDIENCE, DISCOVERY, JWKS, age_keys, verify
from tests.test_settings import start

pytestmark = pytest.mark.django_db
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def private_fragments(row: SigningKey) -> list[str]:
    """Text that would give a private key away: its PEM body, its exponent d as a JWK has it, its ciphertext."""
    pem = crypto.decrypt(row.private_key_encrypted)
    body = "".join(pem.strip().splitlines()[1:-1])
    d = keyring.keys.from_pem(pem).private_numbers().d
    d_b64 = base64.urlsafe_b64encode(d.to_bytes((d.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
    return [body[40:80], body[-80:-40], d_b64[:40], row.private_key_encrypted[20:60]]


def test_the_private_key_is_stored_as_fernet_ciphertext_only(site):
    keyring.ensure_keys()
    for row in SigningKey.objects.all():
        assert crypto.decrypt(row.private_key_encrypted).startswith("-----BEGIN PRIVATE KEY-----")
        assert "PRIVATE KEY" not in row.private_key_encrypted
        assert "private" not in repr(row).lower() and row.private_key_encrypted not in repr(row)


def test_no_response_admin_page_log_or_audit_event_holds_a_private_key(site, admin_client, all_logs):
    issuer.sign_assertion("connection:1", AUDIENCE)
    age_keys(timedelta(hours=2))
    rotation.rotate()
    out = StringIO()
    call_command("rotate_signing_key", "--status", stdout=out)
    pages = [Client().get(DISCOVERY), Client().get(JWKS), admin_client.get("/admin/federation/signingkey/")]
    pages += [admin_client.get(f"/admin/federation/signingkey/{row.pk}/change/") for row in SigningKey.objects.all()]
    seen = [page.content.decode() for page in pages] + [out.getvalue()]
    seen += [record.getMessage() for record in all_logs]
    seen += [f"{event.target_name} {event.outcome} {event.detail}" for event in AuditEvent.objects.all()]
    assert all(page.status_code == 200 for page in pages)
    for row in SigningKey.objects.all():
        for fragment in private_fragments(row):
            assert not any(fragment in text for text in seen), fragment
    assert not any("PRIVATE KEY" in text for text in seen)


def test_superusers_see_the_keys_read_only(site, admin_client):
    keyring.ensure_keys()
    listing = admin_client.get("/admin/federation/signingkey/").content.decode()
    for row in SigningKey.objects.all():
        assert row.kid in listing
    for label in ("Kid", "State", "Created at", "Activated at", "Retired at", "Published until", "Source"):
        assert label in listing
    row = SigningKey.objects.get(state=KeyState.CURRENT)
    change = admin_client.get(f"/admin/federation/signingkey/{row.pk}/change/").content.decode()
    assert row.kid in change and "private_key" not in change and 'name="state"' not in change
    assert admin_client.get("/admin/federation/signingkey/add/").status_code == 403
    assert admin_client.get(f"/admin/federation/signingkey/{row.pk}/delete/").status_code == 403
    assert admin_client.post(f"/admin/federation/signingkey/{row.pk}/change/", {"state": "retired"}).status_code == 403
    assert SigningKey.objects.get(pk=row.pk).state == KeyState.CURRENT


def test_staff_who_are_not_superusers_do_not_see_the_keys(site):
    keyring.ensure_keys()
    staff = get_user_model().objects.create_user("olga", "olga@example.com", "x", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="federation"))
    browser = Client()
    browser.force_login(staff)
    assert browser.get("/admin/federation/signingkey/").status_code == 403
    assert "signingkey" not in browser.get("/admin/").content.decode()


def rotate_encryption() -> str:
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    return out.getvalue()


def test_rotate_encryption_key_re_encrypts_the_signing_keys(site, settings):
    settings.FIELD_ENCRYPTION_KEY = [OLD]
    first = jwt.get_unverified_header(issuer.sign_assertion("c", AUDIENCE))["kid"]
    settings.FIELD_ENCRYPTION_KEY = [NEW, OLD]
    assert "Re-encrypted 2 issuer signing key(s)." in rotate_encryption()
    assert "issuer signing key" not in rotate_encryption()  # a second run has nothing left to do
    settings.FIELD_ENCRYPTION_KEY = [NEW]
    keyring.forget_signer()
    token = issuer.sign_assertion("c", AUDIENCE)
    assert jwt.get_unverified_header(token)["kid"] == first
    verify(token, Client().get(JWKS).json())


def test_rotate_encryption_key_names_a_signing_key_no_key_decrypts(site, settings):
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    keyring.ensure_keys()
    settings.FIELD_ENCRYPTION_KEY = [NEW]
    with pytest.raises(CommandError, match="2 secret.* no configured key decrypts: signing key "):
        rotate_encryption()


def test_keys_from_settings_sign_and_are_published_and_the_database_is_not_used(site, settings, pem_file):
    (signing, signing_key), (published, published_key) = pem_file("a.pem"), pem_file("b.pem")
    settings.FEDERATION_SIGNING_KEYS = [signing, published]
    token = issuer.sign_assertion("connection:1", AUDIENCE)
    document = Client().get(JWKS).json()
    kids = [key["kid"] for key in document["keys"]]
    assert kids == [keyring.keys.public_jwk(signing_key)["kid"], keyring.keys.public_jwk(published_key)["kid"]]
    assert jwt.get_unverified_header(token)["kid"] == kids[0]
    verify(token, document)
    assert not SigningKey.objects.exists()
    status = issuer.signing_status()
    assert (status.source, status.current.kid, status.also_published) == ("settings", kids[0], kids[1:])
    out = StringIO()
    call_command("rotate_signing_key", "--status", stdout=out)
    assert f"Current: {kids[0]}\nAlso published: {kids[1]}\nNext automatic rotation: none" in out.getvalue()
    assert "rotate them by changing that setting" in out.getvalue()
    with pytest.raises(CommandError, match="rotate them by changing that setting"):
        call_command("rotate_signing_key", stdout=StringIO())
    assert rotation.rotate_if_due() is None and not SigningKey.objects.exists()


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("missing", "cannot be read"),
        ("ec", "is not an RSA private key"),
        ("small", "an RSA key of 1024 bits (at least 2048 are needed)"),
        ("garbage", "not a PEM private key"),
        ("encrypted", "is encrypted: give an unencrypted PEM file"),
    ],
)
def test_a_settings_key_that_cannot_sign_is_refused_naming_the_setting_and_the_file(pem_file, tmp_path, kind, words):
    if kind == "missing":
        path = str(tmp_path / "missing.pem")
    elif kind == "garbage":
        path = str(tmp_path / "garbage.pem")
        (tmp_path / "garbage.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    elif kind == "encrypted":
        path, key = pem_file("encrypted.pem")
        protection = serialization.BestAvailableEncryption(b"a passphrase")
        (tmp_path / "encrypted.pem").write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, protection)
        )
    else:
        path, _ = pem_file(f"{kind}.pem", kind="ec" if kind == "ec" else "rsa", bits=1024)
    with pytest.raises(ImproperlyConfigured) as refused:
        setting_values.signing_key_files([path])
    assert str(refused.value).startswith(f"FEDERATION_SIGNING_KEYS: {path} ")
    assert words in str(refused.value)


def test_the_application_refuses_to_start_with_a_bad_settings_key_and_never_prints_it(pem_file):
    path, key = pem_file("small.pem", bits=1024)
    pem_text = open(path).read()
    refused = start(FEDERATION_SIGNING_KEYS=f"{path}")
    assert refused.returncode != 0
    assert (
        f"ImproperlyConfigured: FEDERATION_SIGNING_KEYS: {path} cannot sign: an RSA key of 1024 bits" in refused.stderr
    )
    assert pem_text.splitlines()[1] not in refused.stderr + refused.stdout
    good, _ = pem_file("good.pem")
    started = start(FEDERATION_SIGNING_KEYS=f"{good}, ")
    assert started.returncode == 0, started.stderr
