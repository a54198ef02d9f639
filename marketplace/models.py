"""The Connector Marketplace: the catalogue, the Premium connectors' trials and subscriptions, access requests
and in-app notifications. The installation is one organization, so an entitlement belongs to a connector."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme


class Tier(models.TextChoices):
    STANDARD = "standard", "Standard"
    PREMIUM = "premium", "Premium"


class ConnectionFormPage(models.TextChoices):
    """The connection forms this application has: a connector without one is configured elsewhere."""

    NONE = "", "None in this application"
    DYNAMICS_CRM = "connections:create", "Dynamics CRM connection form"


class Connector(models.Model):
    slug = models.SlugField(unique=True, help_text="The connector's permanent identifier; the code refers to it.")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300)
    tier = models.CharField(
        max_length=16,
        choices=Tier,
        default=Tier.STANDARD,
        help_text="Standard: free for everyone. Premium: a one-time 14-day free trial, then a monthly subscription.",
    )
    connection_form = models.CharField(
        max_length=64, choices=ConnectionFormPage, default=ConnectionFormPage.NONE, blank=True
    )
    position = models.PositiveSmallIntegerField(default=100, help_text="Tiles are shown by position, then name.")

    class Meta:
        ordering = ["position", "name"]
        permissions = [("manage_connectors", "Can start trials and manage subscriptions of connectors")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"{reverse('marketplace:index')}#connector-{self.slug}"

    @property
    def is_premium(self) -> bool:
        return self.tier == Tier.PREMIUM

    @property
    def connection_form_url(self) -> str:
        return reverse(self.connection_form) if self.connection_form else ""


class Trial(models.Model):
    # One trial per connector, ever: the database settles two admins starting it at once.
    connector = models.OneToOneField(Connector, on_delete=models.PROTECT, related_name="trial")
    started_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    users_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("started_at")), name="trial_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.connector} trial"


class Subscription(models.Model):
    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="subscriptions")
    started_at = models.DateTimeField(default=timezone.now)
    billing_day = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(31)],
        help_text="Day of the month the subscription is billed (the last day in shorter months).",
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    users_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector"],
                condition=Q(cancelled_at__isnull=True),
                name="one_active_subscription_per_connector",
                violation_error_message="This connector already has an active subscription.",
            ),
            models.CheckConstraint(condition=Q(billing_day__gte=1, billing_day__lte=31), name="billing_day_1_to_31"),
        ]

    def __str__(self) -> str:
        return f"{self.connector} subscription"


class AccessRequest(models.Model):
    """A user asking the administrators for a Premium connector: at most once per user, connector and day."""

    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="access_requests")
    requested_on = models.DateField(help_text="The day of the request, in the site's time zone.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["requester", "connector", "requested_on"], name="one_access_request_per_user_and_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.requester} asks for {self.connector}"


class NotificationQuerySet(models.QuerySet):
    def unread(self):
        return self.filter(read=False)


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    text = models.CharField(max_length=500)
    link = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)
    read = models.BooleanField(default=False)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-pk"]
        indexes = [models.Index(fields=["recipient", "read"], name="notification_unread")]

    def __str__(self) -> str:
        return self.text

    @property
    def safe_link(self) -> str:
        """The link if it stays on this site (it can be edited in the admin), else ''."""
        on_site = self.link.startswith("/") and url_has_allowed_host_and_scheme(self.link, allowed_hosts=set())
        return self.link if on_site else ""
