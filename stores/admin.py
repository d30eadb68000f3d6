from django.contrib import admin

from stores.models import StaffMembership, Store


class StaffMembershipInline(admin.TabularInline):
    model = StaffMembership
    extra = 1
    raw_id_fields = ("user",)


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "last_seq", "created_at")
    readonly_fields = ("last_seq",)
    inlines = [StaffMembershipInline]
