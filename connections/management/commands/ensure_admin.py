"""Create a first administrator with a random password, printed once, when no user exists."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first administrator (random password printed once) if the database has no user."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args, username: str, email: str, **options):
        User = get_user_model()
        if User.objects.exists():
            self.stdout.write("Users exist already: no administrator created.")
            return
        password = secrets.token_urlsafe(15)
        User.objects.create_superuser(username=username, email=email, password=password)
        banner = "=" * 64
        self.stdout.write(
            f"{banner}\nFirst administrator created. This password is shown only once:\n"
            f"  username: {username}\n  password: {password}\n"
            f"Change it after signing in (Admin > Users).\n{banner}"
        )
