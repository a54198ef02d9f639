"""Helpers for the API token tests: every text column of every row, to search for a plaintext token."""

from django.apps import apps
from django.db import connection


def database_text() -> str:
    """Every value of every table, as text: a plaintext token stored anywhere would be in it."""
    values = []
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (table names from the models)
            values.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(values)
