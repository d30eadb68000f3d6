"""URLs served on a tenant's host (acme.example.com)."""

from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from alerts.urls import api_urlpatterns as alert_api
from alerts.urls import page_urlpatterns as alert_pages
from orders.urls import api_urlpatterns as order_api
from orders.urls import page_urlpatterns as order_pages
from platform_core import account_api, openapi, views
from platform_core.admin import tenant_site
from stores.urls import page_urlpatterns as manage_pages

urlpatterns = [
    path("", views.home, name="home"),
    path("", include(order_pages)),
    path("", include(alert_pages)),
    path("manage/", include(manage_pages)),
    path("api/", include(order_api)),
    path("api/", include(alert_api)),
    path("api/ws-tickets", account_api.ws_tickets, name="api-ws-tickets"),
    path("api/account/language", account_api.language, name="api-account-language"),
    path("api/tokens", account_api.tokens, name="api-tokens"),
    path("api/tokens/<int:token_id>", account_api.token, name="api-token"),
    # The Spanish (or English) words of the pages' scripts: gettext() in JS.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("api/openapi.json", openapi.openapi_json, name="openapi"),
    path("api/docs", openapi.api_docs, name="api-docs"),
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/", include("platform_core.urls")),
    path("admin/login/", views.admin_sign_in, {"site": tenant_site}),  # before admin's own: limited sign-ins
    path("admin/", tenant_site.urls),
]

handler403 = "platform_core.views.permission_denied"
handler404 = "platform_core.views.page_not_found"
