"""Django admin for the catalogue, the entitlements (trials, subscriptions), access requests and notifications."""

from django.contrib import admin

from gathr_connector.admin_autocomplete import SafeAutocompleteAdmin
from marketplace.models import AccessRequest, Connector, Notification, Subscription, Trial


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "tier", "connection_form", "position"]
    list_editable = ["position"]
    list_filter = ["tier"]
    search_fields = ["name", "slug", "description"]

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj else {"slug": ["name"]}

    def get_readonly_fields(self, request, obj=None):
        # The code finds a connector by its slug: renaming it would lock its connections out.
        return ["slug"] if obj else []

    def has_delete_permission(self, request, obj=None):
        # This application's own connector has a form and a gate: it stays in the catalogue.
        if obj is not None and obj.connection_form:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Trial)
class TrialAdmin(SafeAutocompleteAdmin):
    list_display = ["connector", "started_at", "ends_at", "started_by", "users_notified_at"]
    list_select_related = ["connector", "started_by"]
    autocomplete_fields = ["started_by"]
    date_hierarchy = "started_at"


class ActiveListFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("cancelled", "Cancelled")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(cancelled_at__isnull=True)
        if self.value() == "cancelled":
            return queryset.filter(cancelled_at__isnull=False)
        return queryset


@admin.register(Subscription)
class SubscriptionAdmin(SafeAutocompleteAdmin):
    list_display = ["connector", "started_at", "billing_day", "cancelled_at", "started_by", "cancelled_by"]
    list_filter = [ActiveListFilter, "connector"]
    list_select_related = ["connector", "started_by", "cancelled_by"]
    autocomplete_fields = ["started_by", "cancelled_by"]
    date_hierarchy = "started_at"


@admin.register(AccessRequest)
class AccessRequestAdmin(SafeAutocompleteAdmin):
    list_display = ["requester", "connector", "requested_on", "created_at"]
    list_filter = ["connector", "requested_on"]
    list_select_related = ["requester", "connector"]
    search_fields = ["requester__username", "requester__email"]
    autocomplete_fields = ["requester"]
    date_hierarchy = "requested_on"


@admin.register(Notification)
class NotificationAdmin(SafeAutocompleteAdmin):
    list_display = ["text", "recipient", "created", "read"]
    list_filter = ["read"]
    list_select_related = ["recipient"]
    search_fields = ["text", "recipient__username"]
    autocomplete_fields = ["recipient"]
