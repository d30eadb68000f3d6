from django.contrib import admin

from alerts.models import Notification
from platform_core.admin import TenantModelAdmin, tenant_site


@admin.register(Notification, site=tenant_site)
class NotificationAdmin(TenantModelAdmin):
    can = frozenset({"view", "delete"})
    list_display = ("recipient", "kind", "title", "created_at", "read_at")
    list_filter = ("kind",)
    raw_id_fields = ("recipient",)
