"""Who may see, use and manage a connection.

Private: the owner and administrators. Organization: every signed-in user may see it and TEST it;
only the owner and administrators may edit, delete, sign in for it or replace its secrets.
Administrators are superusers and the "Organization administrators" group (marketplace's permission).
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from connections.models import Connection, Scope
from marketplace.roles import is_administrator

__all__ = ["can_manage", "is_administrator", "manageable_or_403", "usable_or_404", "visible_to"]


def visible_to(user, queryset: QuerySet | None = None) -> QuerySet:
    queryset = Connection.objects.all() if queryset is None else queryset
    if is_administrator(user):
        return queryset
    return queryset.filter(Q(owner=user) | Q(scope=Scope.ORGANIZATION))


def can_manage(user, connection: Connection) -> bool:
    return is_administrator(user) or connection.owner_id == user.pk


def usable_or_404(user, pk: int, queryset: QuerySet | None = None) -> Connection:
    """A connection the user may see and TEST; others' private connections do not exist for them."""
    connection = visible_to(user, queryset).filter(pk=pk).first()
    if connection is None:
        raise Http404("No such connection.")
    return connection


def manageable_or_403(user, pk: int, queryset: QuerySet | None = None) -> Connection:
    """A connection the user may change; a visible one they may not change is a 403."""
    connection = usable_or_404(user, pk, queryset)
    if not can_manage(user, connection):
        raise PermissionDenied("Only the owner of this connection and administrators may change it.")
    return connection
