"""Tell people: an in-app notification for each recipient and an email through Django's email backend."""

import logging
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db.models import Q
from django.http import HttpRequest
from django.template.loader import render_to_string

from marketplace import entitlements
from marketplace.entitlements import TRIAL_DAYS, ConnectorStatus, State
from marketplace.models import Connector, Notification
from marketplace.roles import CODENAME

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    notified: int
    emailed: int
    email_failed: bool = False


def site_root(request: HttpRequest | None = None) -> str:
    """This site's address for links in emails: SITE_URL behind a proxy, else the request's own; without either (a
    worker's email), '' and the links stay relative to the site."""
    return (settings.SITE_URL or (request.build_absolute_uri("/") if request else "")).rstrip("/")


def administrators():
    """Active users who may start trials and subscribe: superusers and holders of the permission."""
    by_group = Q(groups__permissions__codename=CODENAME, groups__permissions__content_type__app_label="marketplace")
    by_user = Q(user_permissions__codename=CODENAME, user_permissions__content_type__app_label="marketplace")
    users = get_user_model().objects.filter(is_active=True)
    return users.filter(Q(is_superuser=True) | by_group | by_user).distinct().order_by("pk")


def everyone_but(actor):
    """The users told when a connector becomes available: every active user but the one who made it so."""
    return get_user_model().objects.filter(is_active=True).exclude(pk=actor.pk).order_by("pk")


def send(recipients, *, text: str, link: str, subject: str, email_template: str, context: dict) -> Delivery:
    """Notify each recipient in the app, then email those with an address."""
    recipients = list(recipients)
    Notification.objects.bulk_create([Notification(recipient=user, text=text, link=link) for user in recipients])
    emails = [
        (subject, render_to_string(email_template, {**context, "recipient": user}), None, [user.email])
        for user in recipients
        if user.email
    ]
    try:
        sent = send_mass_mail(emails, fail_silently=False) if emails else 0
    except (smtplib.SMTPException, OSError):
        logger.exception("Could not send %d notification email(s): %s", len(emails), subject)
        return Delivery(notified=len(recipients), emailed=0, email_failed=True)
    return Delivery(notified=len(recipients), emailed=sent)


def announce(status: ConnectorStatus, actor, root: str) -> Delivery | None:
    """Tell the users that the connector's new trial or subscription lets them use it; None if told already."""
    entitlement = entitlements.unannounced(status)
    if entitlement is None or not entitlements.claim_announcement(entitlement):
        return None
    if status.state == State.TRIAL:
        how = f"started its {TRIAL_DAYS}-day free trial (until {entitlements.when(status.trial.ends_at)})"
    else:
        how = "subscribed to it"
    return connector_available(status.connector, actor, how, root)


def connector_available(connector: Connector, actor, how: str, root: str) -> Delivery:
    """Tell every other active user that `connector` can be used now; `how` says what the admin did."""
    link = connector.connection_form_url or connector.get_absolute_url()
    return send(
        everyone_but(actor),
        text=f"{connector.name} is available: {actor.get_username()} {how}.",
        link=link,
        subject=f"{connector.name} is available in Gathr",
        email_template="marketplace/email/connector_available.txt",
        context={"connector": connector, "actor": actor, "how": how, "url": root + link},
    )


def access_requested(connector: Connector, requester, root: str) -> Delivery:
    """Ask the administrators to start a trial of, or subscribe to, `connector` for `requester`."""
    link = connector.get_absolute_url()
    who = requester.get_username()
    return send(
        administrators().exclude(pk=requester.pk),
        text=f"{who} asks for the Premium {connector.name} connector: start a trial or subscribe.",
        link=link,
        subject=f"{who} asks for the Premium {connector.name} connector",
        email_template="marketplace/email/access_requested.txt",
        context={"connector": connector, "requester": requester, "url": root + link, "trial_days": TRIAL_DAYS},
    )
