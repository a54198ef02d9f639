"""Re-encrypt every stored secret under the newest FIELD_ENCRYPTION_KEY. Safe to rerun."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connections import crypto
from connections.credential_slots import CredentialSlot
from connections.models import Connection
from federation.models import SigningKey

ENCRYPTED_FIELDS = (
    "client_secret_encrypted",
    "certificate_encrypted",
    "token_cache_encrypted",
    "windows_password_encrypted",
)


class Command(BaseCommand):
    help = (
        "Re-encrypt stored secrets with the first key of FIELD_ENCRYPTION_KEY. Put the new key first, keep "
        "the old ones after it, run this, then remove the old keys."
    )

    def handle(self, *args, **options):
        rotated = current = 0
        failed = []
        for pk in Connection.objects.order_by("pk").values_list("pk", flat=True).iterator():
            with transaction.atomic():
                connection = Connection.objects.select_for_update().get(pk=pk)
                changed = []
                for field in ENCRYPTED_FIELDS:
                    token = getattr(connection, field)
                    if not token or crypto.is_current(token):
                        continue
                    try:
                        setattr(connection, field, crypto.rotate(token))
                    except crypto.SecretDecryptionError:
                        failed.append(connection.name)
                        continue
                    changed.append(field)
                if changed:
                    connection.save(update_fields=changed)
                    rotated += 1
                else:
                    current += 1
        self.stdout.write(f"Re-encrypted {rotated} connection(s); {current} already used the newest key.")
        failed += self._rotate_slots()
        failed += self._rotate_signing_keys()
        if failed:
            raise CommandError(f"{len(failed)} secret(s) no configured key decrypts: {', '.join(failed)}.")

    def _rotate_slots(self) -> list[str]:
        """The new and previous credentials of rotation (connections/credential_slots.py): the names of the
        connections whose slot no configured key decrypts."""
        rotated, failed = 0, []
        for slot in CredentialSlot.objects.select_related("connection").order_by("pk").iterator():
            if crypto.is_current(slot.credential_encrypted):
                continue
            try:
                token = crypto.rotate(slot.credential_encrypted)
            except crypto.SecretDecryptionError:
                failed.append(f"{slot.connection.name} ({slot.role} credential)")
                continue
            # Only if unchanged meanwhile (a promotion or a new credential writes a new ciphertext).
            rotated += CredentialSlot.objects.filter(pk=slot.pk, credential_encrypted=slot.credential_encrypted).update(
                credential_encrypted=token
            )
        if rotated:
            self.stdout.write(f"Re-encrypted {rotated} new or previous credential(s) of rotation.")
        return failed

    def _rotate_signing_keys(self) -> list[str]:
        """The issuer's signing keys (federation/models.py): the keys no configured key decrypts."""
        rotated, failed = 0, []
        for key in SigningKey.objects.order_by("pk").only("kid", "private_key_encrypted").iterator():
            if crypto.is_current(key.private_key_encrypted):
                continue
            try:
                token = crypto.rotate(key.private_key_encrypted)
            except crypto.SecretDecryptionError:
                failed.append(f"signing key {key.kid}")
                continue
            unchanged = SigningKey.objects.filter(pk=key.pk, private_key_encrypted=key.private_key_encrypted)
            rotated += unchanged.update(private_key_encrypted=token)
        if rotated:
            self.stdout.write(f"Re-encrypted {rotated} issuer signing key(s).")
        return failed
