from django.contrib import admin
from django.db import connection
from django_tenants.utils import get_public_schema_name

from tenants.models import Domain, Tenant


class PublicSchemaOnlyAdmin(admin.ModelAdmin):
    """Tenants are managed by operators on the public host only."""

    def has_module_permission(self, request):
        return connection.schema_name == get_public_schema_name() and super().has_module_permission(request)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 1


@admin.register(Tenant)
class TenantAdmin(PublicSchemaOnlyAdmin):
    list_display = ("name", "schema_name", "created_at")
    search_fields = ("name", "schema_name")
    inlines = [DomainInline]
