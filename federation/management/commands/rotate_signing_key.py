"""Rotate the issuer's signing keys: the next key signs, the current one retires, a new next key is published."""

from django.core.management.base import BaseCommand, CommandError

from federation import keyring, rotation
from federation.status import signing_status


class Command(BaseCommand):
    help = (
        "Make the next signing key current (it must have been published for FEDERATION_KEY_PUBLISH_AHEAD seconds), "
        "retire the current one (published until its last assertion expires) and publish a new next key."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Rotate even if the next key is newly published.")
        parser.add_argument("--status", action="store_true", help="Show the keys and the next rotation; change none.")

    def handle(self, *args, force: bool = False, status: bool = False, **options):
        if status:
            self.stdout.write("\n".join(signing_status().lines()))
            return
        if keyring.uses_settings():
            raise CommandError(rotation.SETTINGS_ROTATION)
        try:
            rotated = rotation.rotate(force=force)
        except rotation.RotationRefusedError as refused:
            raise CommandError(str(refused)) from None
        self.stdout.write(
            f"Rotated: {rotated.current.kid} signs now; {rotated.retired.kid} is retired and stays published until "
            f"{rotated.retired.published_until:%Y-%m-%d %H:%M:%S %Z}; {rotated.next.kid} is published as the next key."
        )
