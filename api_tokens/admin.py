"""API tokens in the admin: read-only (the digest never shown), and an action that revokes the selected tokens."""

from django.contrib import admin, messages
from django.utils import timezone

from api_tokens.models import ApiToken

SHOWN_FIELDS = ["user", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "shown_prefix", "created_at", "expires_at", "last_used_at", "state"]
    list_filter = ["revoked_at", "expires_at"]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    fields = SHOWN_FIELDS
    readonly_fields = SHOWN_FIELDS
    actions = ["revoke"]

    @admin.display(description="Token")
    def shown_prefix(self, token: ApiToken) -> str:
        return token.shown_prefix

    @admin.display(description="State")
    def state(self, token: ApiToken) -> str:
        return token.state(timezone.now()).capitalize()

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset) -> None:
        revoked = [token for token in queryset.select_related("user") if token.revoke(by=request.user)]
        self.message_user(request, f"Revoked {len(revoked)} token(s).", messages.SUCCESS)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("api_tokens.change_apitoken")

    # Tokens are created by their users on their page (shown once there); here they are only seen and revoked.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
