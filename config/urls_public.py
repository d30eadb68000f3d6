"""URLs served on the public host (the operators' site)."""

from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from platform_core import views
from platform_core.admin import operator_site

urlpatterns = [
    path("", views.public_home, name="public-home"),
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/", include("platform_core.urls")),
    path("admin/login/", views.admin_sign_in, {"site": operator_site}),  # before admin's own: limited sign-ins
    path("admin/", operator_site.urls),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
]

handler403 = "platform_core.views.permission_denied"
handler404 = "platform_core.views.page_not_found"
