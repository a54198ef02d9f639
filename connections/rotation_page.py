"""The connection page's Credentials panel: the current credential, the new one and the previous one (facts only,
never a secret), with the rotation buttons for the owner and administrators."""

from dataclasses import dataclass

from django.template.loader import render_to_string

from connections import access, rotation
from connections.credential_slots import CredentialSlot, SlotRole
from connections.models import Connection
from connections.rotation_forms import NewCredentialForm


@dataclass
class Credentials:
    noun: str  # "secret" or "certificate"
    new: CredentialSlot | None
    previous: CredentialSlot | None


def credentials(connection: Connection) -> Credentials | None:
    """The panel's facts; None for connections rotation does not apply to (no panel)."""
    if not rotation.applies(connection):
        return None
    slots = CredentialSlot.objects.filter(connection=connection).select_related("added_by", "replaced_by", "test_run")
    by_role = {slot.role: slot for slot in slots}
    return Credentials(rotation.noun(connection), by_role.get(SlotRole.NEW), by_role.get(SlotRole.PREVIOUS))


def context(request, connection: Connection, form: NewCredentialForm | None = None) -> dict:
    """What _credentials.html needs (the connection page's context has the same names)."""
    can_manage = access.can_manage(request.user, connection)
    if form is None and can_manage:
        form = NewCredentialForm(connection=connection)
    return {
        "connection": connection,
        "can_manage": can_manage,
        "credentials": credentials(connection),
        "new_credential_form": form,
    }


def panel_html(request, connection: Connection) -> str:
    """The panel again, after a TEST of the new credential ends (the page's script puts it in place)."""
    return render_to_string("connections/_credentials.html", context(request, connection), request=request)
