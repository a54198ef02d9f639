"""Record audit events. Callers pass names and outcomes only: never a secret, a token or a message body."""

import logging

from audit.models import Action, AuditEvent

logger = logging.getLogger("audit")


def record(actor, action: Action, target, *, outcome: str = "", detail: str = "") -> AuditEvent:
    """Append one event. `target` is a model instance (its class, pk and str() are kept)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    event = AuditEvent.objects.create(
        actor=user,
        actor_name=(user.get_username() if user else "system")[:150],
        action=action,
        target_type=type(target)._meta.label_lower if target is not None else "",
        target_id=str(getattr(target, "pk", "") or ""),
        target_name=str(target)[:200] if target is not None else "",
        outcome=outcome[:40],
        detail=detail[:500],
    )
    logger.info("%s %s %s %s", event.actor_name, action, event.target_name, outcome)
    return event
