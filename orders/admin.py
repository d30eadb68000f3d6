from django.contrib import admin

from orders.models import Order, OrderComment, StoreEvent
from platform_core.admin import TenantInline, TenantModelAdmin, tenant_site


class OrderCommentInline(TenantInline):
    model = OrderComment
    extra = 0


@admin.register(Order, site=tenant_site)
class OrderAdmin(TenantModelAdmin):
    # Read-only: orders change through the dashboard, the API and webhooks,
    # which run the status machine and write the stream.
    list_display = ("id", "store", "external_id", "status", "total", "currency", "created_at")
    list_filter = ("status", "store")
    search_fields = ("external_id",)
    inlines = [OrderCommentInline]


@admin.register(StoreEvent, site=tenant_site)
class StoreEventAdmin(TenantModelAdmin):
    # The stream is append-only.
    list_display = ("store", "seq", "type", "created_at")
    list_filter = ("store", "type")
