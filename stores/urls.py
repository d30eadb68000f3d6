"""/manage/: tenant admins' pages for stores and staff (config/urls.py
mounts them; integrations and announcements have theirs in their apps)."""

from django.urls import path

from stores import views

page_urlpatterns = [
    path("", views.index, name="manage"),
    path("stores/", views.stores, name="manage-stores"),
    path("stores/<int:store_id>/", views.store, name="manage-store"),
    path("stores/<int:store_id>/staff/", views.staff_add, name="manage-staff-add"),
    path("stores/<int:store_id>/staff/<int:membership_id>/role", views.staff_role, name="manage-staff-role"),
    path("stores/<int:store_id>/staff/<int:membership_id>/remove", views.staff_remove, name="manage-staff-remove"),
]
