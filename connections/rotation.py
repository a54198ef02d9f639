"""Rotation without downtime: a new client secret or certificate is added beside the current one, TESTed, promoted
to current (the old one is kept as "previous" until discarded), or discarded. Until a promotion, every TEST and
everything else uses the current credential: nothing is lost if the new one never works.

Each step is one function here, called by the views (connections/rotation_views.py), and writes its audit event; a
TEST of the new credential is audited by the worker when it ends. Promotion and discarding lock the connection's
row: a double click or two administrators at once promote once. See docs/decisions/0006-credential-rotation.md.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit import trail
from audit.models import Action
from connections import background, crypto
from connections.credential_slots import CredentialSlot, SlotRole
from connections.dynamics import entra
from connections.dynamics.certificates import CertificateCredential
from connections.models import AuthScheme, Connection, CredentialType, CrmVersion
from connections.runs import TestRun
from marketplace import gate
from marketplace.catalogue import DYNAMICS_CRM

logger = logging.getLogger(__name__)
NOUNS = {CredentialType.CLIENT_SECRET: "secret", CredentialType.CERTIFICATE: "certificate"}


class RotationError(Exception):
    """A rotation step that cannot be done now; the message says why, and what to do (no secret in it)."""


def applies(connection: Connection) -> bool:
    """Rotation is for app-only sign-in to Microsoft Entra ID with a secret or certificate: CRMOnline with
    AzureServicePrincipal (a federated credential or a managed identity has nothing to rotate)."""
    return (
        connection.crm_version == CrmVersion.CRM_ONLINE
        and connection.auth_scheme == AuthScheme.SERVICE_PRINCIPAL
        and not connection.is_secretless
    )


def noun(connection: Connection) -> str:
    """ "secret" or "certificate": what the connection's Credential setting makes it use."""
    return NOUNS[CredentialType.CERTIFICATE if connection.uses_certificate else CredentialType.CLIENT_SECRET]


@sensitive_variables("new_secret", "credential")
def add(connection: Connection, actor, *, new_secret: str | CertificateCredential) -> CredentialSlot:
    """Keep `new_secret` (a client secret or a certificate) as the connection's new credential, replacing a new one
    not yet promoted; the current stays. Keyword only, and so named that every error report hides it."""
    credential = new_secret
    _require_rotation(connection)
    kind = CredentialType.CERTIFICATE if isinstance(credential, CertificateCredential) else CredentialType.CLIENT_SECRET
    if kind != connection.credential_type:
        raise RotationError(f"This connection uses a {noun(connection)}: add a new {noun(connection)}.")
    if _is_current(connection, credential):
        raise RotationError(f"This is the {noun(connection)} the connection uses now: add the new one.")
    with transaction.atomic():
        _locked(connection.pk)
        slot = CredentialSlot.objects.filter(connection_id=connection.pk, role=SlotRole.NEW).first()
        replaced = slot is not None
        slot = slot or CredentialSlot(connection_id=connection.pk, role=SlotRole.NEW)
        if kind == CredentialType.CERTIFICATE:
            slot.set_certificate(credential)
        else:
            slot.set_secret(credential)
        slot.added_by, slot.added_at, slot.test_run = actor, timezone.now(), None
        slot.save()
    detail = f"new {noun(connection)}" + (" (replaced the new one not yet promoted)" if replaced else "")
    trail.record(actor, Action.CREDENTIAL_ADDED, connection, detail=detail)
    return slot


def start_test(connection: Connection, actor) -> TestRun:
    """Queue a TEST of the connection with its new credential; the result is kept on the slot and in the history.

    Raises RotationError, and what background.start_new_credential raises (gate, rate limits, queue)."""
    gate.require(DYNAMICS_CRM)  # before anything else, as for every TEST
    _require_rotation(connection)
    slot = _new_slot(connection)
    try:
        credential = slot.get_credential()
    except crypto.SecretDecryptionError:
        raise RotationError(f"The new {noun(connection)} cannot be decrypted any more: add it again.") from None
    run = background.start_new_credential(connection, actor, credential)
    # Only if it is still the credential this TEST used (another admin may have added one meanwhile).
    CredentialSlot.objects.filter(pk=slot.pk, credential_encrypted=slot.credential_encrypted).update(test_run=run)
    return run


def promote(connection_pk: int, actor) -> Connection:
    """Make the new credential current, after a good TEST of it; the replaced one becomes "previous".

    Under the connection's row lock: a second click (or a second administrator) finds nothing left to promote."""
    with transaction.atomic():
        connection = _locked(connection_pk)
        _require_rotation(connection)
        slots = {slot.role: slot for slot in CredentialSlot.objects.filter(connection=connection)}
        new = _promotable(connection, slots)
        previous = _current_as_previous(connection, actor)
        _make_current(connection, new)
        new.delete()
        if previous.credential_encrypted:  # none when the connection had lost its credential
            previous.save()
        connection.save()
    _retire(previous)
    detail = f"new {noun(connection)} is current; the replaced one is kept as previous until discarded"
    trail.record(actor, Action.CREDENTIAL_PROMOTED, connection, detail=detail)
    return connection


def discard(connection_pk: int, actor, role: str) -> CredentialSlot:
    """Delete the new credential (before its promotion) or the previous one (after it); the current stays."""
    with transaction.atomic():
        connection = _locked(connection_pk)
        slot = CredentialSlot.objects.filter(connection=connection, role=role).first()
        if slot is None:
            raise RotationError(f"There is no {role} {noun(connection)} to discard: it was promoted or discarded.")
        slot.delete()
    _retire(slot)
    trail.record(actor, Action.CREDENTIAL_DISCARDED, connection, detail=f"{slot.role} {slot.label}")
    return slot


def _promotable(connection: Connection, slots: dict) -> CredentialSlot:
    new = slots.get(SlotRole.NEW)
    if new is None:
        raise RotationError(f"There is no new {noun(connection)} to promote: it was promoted or discarded already.")
    if new.kind != connection.credential_type:
        raise RotationError(
            f"The new {new.label} does not match the connection's Credential setting ({noun(connection)}) any more: "
            f"discard it and add a new {noun(connection)}."
        )
    if SlotRole.PREVIOUS in slots:
        raise RotationError(
            f"Discard the previous {slots[SlotRole.PREVIOUS].label} first: a connection keeps one previous credential."
        )
    if not new.passed:
        raise RotationError(
            f"TEST the new {new.label} first: only a new {new.label} whose TEST passed can be promoted."
        )
    return new


def _current_as_previous(connection: Connection, actor) -> CredentialSlot:
    """The current credential, as it moves aside: its ciphertext as it is (never decrypted here)."""
    previous = CredentialSlot(
        connection=connection, role=SlotRole.PREVIOUS, kind=connection.credential_type, replaced_by=actor
    )
    previous.replaced_at = timezone.now()
    if connection.uses_certificate:
        previous.credential_encrypted = connection.certificate_encrypted
        _copy_certificate_facts(connection, previous)
    else:
        previous.credential_encrypted = connection.client_secret_encrypted
    return previous


def _make_current(connection: Connection, new: CredentialSlot) -> None:
    if new.is_certificate:
        connection.certificate_encrypted = new.credential_encrypted
        _copy_certificate_facts(new, connection)
    else:
        connection.client_secret_encrypted = new.credential_encrypted


def _retire(slot: CredentialSlot) -> None:
    """A credential no longer current or new: this process drops its msal apps and their tokens now (workers do at
    the connection's next TEST, entra.current_credentials)."""
    if not slot.credential_encrypted:
        return
    try:
        entra.retire_credential(slot.get_credential())
    except crypto.SecretDecryptionError:
        logger.warning(
            "A retired credential of connection %s cannot be decrypted: its apps age out.", slot.connection_id
        )


@sensitive_variables("credential", "current")
def _is_current(connection: Connection, credential) -> bool:
    try:
        current = connection.get_certificate() if connection.uses_certificate else connection.get_client_secret()
    except crypto.SecretDecryptionError:
        return False
    return bool(current) and entra.credential_fingerprint(current) == entra.credential_fingerprint(credential)


def _new_slot(connection: Connection) -> CredentialSlot:
    slot = CredentialSlot.objects.filter(connection=connection, role=SlotRole.NEW).first()
    if slot is None:
        raise RotationError(f"There is no new {noun(connection)} to TEST: add one first.")
    if slot.kind != connection.credential_type:
        raise RotationError(f"The new {slot.label} does not match the connection's Credential setting: discard it.")
    return slot


def _locked(connection_pk: int) -> Connection:
    """The connection's row, locked until the transaction ends (SQLite: the IMMEDIATE transaction's write lock)."""
    connection = Connection.objects.select_for_update().filter(pk=connection_pk).first()
    if connection is None:
        raise RotationError("The connection was deleted meanwhile.")
    return connection


def _require_rotation(connection: Connection) -> None:
    if not applies(connection):
        raise RotationError(
            "Rotation is for CRMOnline connections with AzureServicePrincipal: edit the connection to change its "
            "credential."
        )


CERTIFICATE_FACTS = ("certificate_subject", "certificate_sha1", "certificate_sha256", "certificate_not_after")


def _copy_certificate_facts(source, target) -> None:
    """The certificate's public facts (shown on the page), from a connection to a slot or back."""
    for name in CERTIFICATE_FACTS:
        setattr(target, name, getattr(source, name))
