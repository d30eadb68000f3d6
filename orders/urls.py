from django.urls import path, register_converter
from django.views.generic import RedirectView

from orders import api, views
from orders.integrations import api as integrations_api
from orders.integrations import views as integrations_views


class CanonicalId:
    """An id as the product writes it: ASCII digits, no leading zero, within
    a bigint. `01`, `١` or 30 digits are no page (404), never a 500."""

    regex = "[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


register_converter(CanonicalId, "canonical_id")

api_urlpatterns = [
    path("stores/<int:store_id>/orders", api.store_orders, name="api-store-orders"),
    path("orders", api.my_orders, name="api-orders"),
    path("orders/<int:order_id>", api.order_detail, name="api-order"),
    path("orders/<int:order_id>/status", api.order_status, name="api-order-status"),
    path("orders/<int:order_id>/comments", api.order_comments, name="api-order-comments"),
    path("integrations/<int:integration_id>/webhook", integrations_api.webhook, name="api-webhook"),
    path("integrations", integrations_api.integrations, name="api-integrations"),
    path(
        "integrations/<int:integration_id>/secrets",
        integrations_api.integration_secrets,
        name="api-integration-secrets",
    ),
    path(
        "integrations/<int:integration_id>/secrets/<int:secret_id>",
        integrations_api.integration_secret,
        name="api-integration-secret",
    ),
    path(
        "integrations/<int:integration_id>/deliveries",
        integrations_api.integration_deliveries,
        name="api-integration-deliveries",
    ),
    path(
        "integrations/<int:integration_id>/test-event",
        integrations_api.integration_test_event,
        name="api-integration-test-event",
    ),
]

page_urlpatterns = [
    path("stores/", views.store_list, name="store-list"),
    path("stores/<int:store_id>/", views.dashboard, name="dashboard"),
    path("orders/<canonical_id:order_id>/", views.order_page, name="order"),
    path("manage/integrations/", integrations_views.integrations, name="integrations"),
    path("integrations/", RedirectView.as_view(pattern_name="integrations", permanent=False)),  # its old address
]
