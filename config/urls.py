"""URLs served on a tenant's host (acme.example.com)."""

from django.contrib import admin
from django.urls import include, path

from alerts.urls import api_urlpatterns as alert_api, page_urlpatterns as alert_pages
from orders.urls import api_urlpatterns as order_api, page_urlpatterns as order_pages
from platform_core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("", include(order_pages)),
    path("", include(alert_pages)),
    path("api/", include(order_api)),
    path("api/", include(alert_api)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
