"""The signing keys, read-only and for superusers only: never the private key."""

from django.contrib import admin

from federation.models import KeyState, SigningKey


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ["kid", "state", "created_at", "activated_at", "retired_at", "published_until", "source"]
    list_filter = ["state", "source"]
    fields = ["kid", "state", "source", "created_at", "activated_at", "retired_at", "published_until"]
    readonly_fields = fields
    exclude = ["private_key_encrypted", "public_jwk"]

    @admin.display(description="Published until")
    def published_until(self, obj: SigningKey) -> str:
        if obj.published_until:
            return f"{obj.published_until:%Y-%m-%d %H:%M:%S}"
        return "-" if obj.state == KeyState.RETIRED else "while current or next"

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
