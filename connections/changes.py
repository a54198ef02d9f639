"""Creating, saving and deleting a connection: the use cases the pages and the API share, with their audit events.

Each takes a validated ConnectionForm (or the connection) and the acting user; the callers check who may act first
(connections/access.py) and apply the Premium gate (creating and editing need it, deleting does not).
"""

from django.db import IntegrityError, transaction
from django.views.decorators.debug import sensitive_variables

from audit import trail
from audit.models import Action
from connections import history
from connections.forms import ConnectionForm
from connections.models import Connection


class NameTakenError(Exception):
    """The name was taken meanwhile (the form said it was free): the form now carries the error."""


class DeletedMeanwhileError(Exception):
    """The connection was deleted while it was being edited."""


@sensitive_variables("typed")
def create(form: ConnectionForm, actor, creation_token=None) -> Connection:
    """Save a new connection owned by `actor`; a form TEST of exactly these values becomes its first TEST.

    Raises NameTakenError (the error added to the form) or IntegrityError for a concurrent twin of the same token."""
    connection = form.save(commit=False)
    connection.owner = actor
    connection.creation_token = creation_token
    try:
        with transaction.atomic():
            connection.save()
    except IntegrityError:
        if creation_token and Connection.objects.filter(creation_token=creation_token).exists():
            raise  # a concurrent twin of this POST (same token): the caller shows the twin
        form.add_error("name", form.error_messages["name_taken"] % {"name": connection.name})
        raise NameTakenError from None
    trail.record(actor, Action.CONNECTION_CREATED, connection)
    typed = {
        "secret": form.cleaned_data.get("client_secret", ""),
        "certificate": form.certificate_credential,
        "password": form.cleaned_data.get("windows_password", ""),
    }
    history.adopt_form_test(connection, actor, history.fingerprint(connection, **typed))
    return connection


def save(form: ConnectionForm, actor) -> Connection:
    """Save an edited connection and record what changed. Raises NameTakenError or DeletedMeanwhileError."""
    try:
        with transaction.atomic():
            form.save()
    except IntegrityError:
        form.add_error("name", form.error_messages["name_taken"] % {"name": form.cleaned_data["name"]})
        raise NameTakenError from None
    except Connection.NotUpdated:
        raise DeletedMeanwhileError from None
    trail.record(actor, Action.CONNECTION_EDITED, form.instance, detail=", ".join(form.changed_data))
    return form.instance


def delete(connection: Connection, actor) -> None:
    trail.record(actor, Action.CONNECTION_DELETED, connection)
    connection.delete()
