"""URLs served on a tenant's host (acme.example.com)."""

from django.contrib import admin
from django.urls import include, path

from platform_core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
