from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from platform_core.models import ApiToken, User


@admin.register(User)
class PregonUserAdmin(UserAdmin):
    fieldsets = UserAdmin.fieldsets + (("Pregón", {"fields": ("is_tenant_admin",)}),)
    list_display = UserAdmin.list_display + ("is_tenant_admin",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "digest", "created_at", "last_used_at")
    raw_id_fields = ("user",)

    def has_add_permission(self, request):
        return False  # the plaintext must be shown once: create_api_token
