from django.contrib import admin

from platform_core.admin import TenantInline, TenantModelAdmin, tenant_site
from stores.models import StaffMembership, Store


class StaffMembershipInline(TenantInline):
    model = StaffMembership
    can = frozenset({"view", "add", "change", "delete"})  # removing one closes that person's boards
    extra = 1
    raw_id_fields = ("user",)


@admin.register(Store, site=tenant_site)
class StoreAdmin(TenantModelAdmin):
    # No delete: a store's orders and stream are its history.
    can = frozenset({"view", "add", "change"})
    list_display = ("id", "name", "last_seq", "created_at")
    readonly_fields = ("last_seq",)
    inlines = [StaffMembershipInline]
