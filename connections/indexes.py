"""Indexes in the order of the Connections page's sorts, so that its first pages read 25 rows, not every row."""

import copy

from django.db import models
from django.db.models.expressions import OrderBy


class SortIndex(models.Index):
    """An index whose columns carry NULLS FIRST or NULLS LAST where the database takes it.

    PostgreSQL serves an ORDER BY from an index only if its nulls sit where the ORDER BY puts them. SQLite refuses
    NULLS in CREATE INDEX ("unsupported use of NULLS FIRST"), and needs none: its nulls come first ascending and
    last descending, as the page asks."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        index = self
        if schema_editor.connection.vendor != "postgresql":
            index = copy.copy(self)
            index.expressions = tuple(_without_nulls(expression) for expression in self.expressions)
        return models.Index.create_sql(index, model, schema_editor, using=using, **kwargs)


def _without_nulls(expression):
    if isinstance(expression, OrderBy):
        return OrderBy(expression.expression, descending=expression.descending)
    return expression
