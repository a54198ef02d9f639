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
        """The new and previous credentials of rotation (connections/credential_slots.py)."""
        slots = CredentialSlot.objects.select_related("connection").order_by("pk")
        rotated, failed = rotate_column(
            slots, "credential_encrypted", lambda slot: f"{slot.connection.name} ({slot.role} credential)"
        )
        if rotated:
            self.stdout.write(f"Re-encrypted {rotated} new or previous credential(s) of rotation.")
        return failed

    def _rotate_signing_keys(self) -> list[str]:
        """The issuer's signing keys (federation/models.py)."""
        keys = SigningKey.objects.order_by("pk").only("kid", "private_key_encrypted")
        rotated, failed = rotate_column(keys, "private_key_encrypted", lambda key: f"signing key {key.kid}")
        if rotated:
            self.stdout.write(f"Re-encrypted {rotated} issuer signing key(s).")
        return failed


def rotate_column(rows, field: str, name_of) -> tuple[int, list[str]]:
    """Re-encrypt one ciphertext column row by row: how many were rewritten, and the names of those no configured
    key decrypts. A row changed meanwhile (a promotion, a new key) keeps its new ciphertext: the UPDATE is
    conditional on the one read."""
    rotated, failed = 0, []
    for row in rows.iterator():
        token = getattr(row, field)
        if crypto.is_current(token):
            continue
        try:
            fresh = crypto.rotate(token)
        except crypto.SecretDecryptionError:
            failed.append(name_of(row))
            continue
        rotated += type(row).objects.filter(pk=row.pk, **{field: token}).update(**{field: fresh})
    return rotated, failed
