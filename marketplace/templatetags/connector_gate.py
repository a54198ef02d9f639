"""Template tags for pages that show a Premium connector's saved connections (list, detail)."""

from django import template

from marketplace import gate
from marketplace.entitlements import ConnectorStatus, shown_status

register = template.Library()


@register.simple_tag
def connector_status(slug: str) -> ConnectorStatus | None:
    """{% connector_status "dynamics-crm" as crm %}: the state now; `crm.active` says whether it may be used."""
    return shown_status(slug)


@register.inclusion_tag("marketplace/_gate_notice.html", takes_context=True)
def gate_notice(context, slug: str, status: ConnectorStatus | None) -> dict:
    """Why the connector's connections are disabled, and what this user can do about it."""
    return gate.notice_context(context["request"], gate.GateRefusal(slug, status))
