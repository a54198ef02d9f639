"""TEST a saved connection from the command line: exit status 0 when available, 1 when not."""

import sys

from django.core.management.base import BaseCommand, CommandError

from connections import testing
from connections.models import Connection
from marketplace import gate


class Command(BaseCommand):
    help = "TEST a saved Dynamics CRM connection by name and record the outcome."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The Connection Name (case does not matter).")

    def handle(self, *args, name: str, **options):
        connection = Connection.objects.filter(name__iexact=name).first()
        if connection is None:
            raise CommandError(f"No connection named “{name}”.")
        try:
            result = testing.test_saved(connection)
        except gate.ConnectorUnavailableError as unavailable:
            self.stderr.write(unavailable.refusal.message)
            sys.exit(1)
        for number, step in enumerate(result.steps, start=1):
            timing = f" ({step.elapsed:.2f} s)" if step.status != "skipped" else ""
            self.stdout.write(f"  {number}. {step.label}: {step.status}{timing}")
        self.stdout.write(result.message)
        if result.hint:
            self.stdout.write(result.hint)
        for key, value in result.details.items():
            self.stdout.write(f"  {key}: {value}")
        if not result.ok:
            sys.exit(1)
