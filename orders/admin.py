from django.contrib import admin

from orders.models import Order, OrderComment, StoreEvent


class OrderCommentInline(admin.TabularInline):
    model = OrderComment
    extra = 0
    raw_id_fields = ("author",)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("id", "store", "external_id", "status", "total", "currency", "created_at")
    list_filter = ("status", "store")
    search_fields = ("external_id",)
    raw_id_fields = ("customer",)
    inlines = [OrderCommentInline]


@admin.register(StoreEvent)
class StoreEventAdmin(admin.ModelAdmin):
    list_display = ("store", "seq", "type", "created_at")
    list_filter = ("store", "type")

    def has_change_permission(self, request, obj=None):
        return False  # the stream is append-only

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
