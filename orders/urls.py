from django.urls import path

from orders import api, views

api_urlpatterns = [
    path("stores/<int:store_id>/orders", api.store_orders, name="api-store-orders"),
    path("orders", api.my_orders, name="api-orders"),
    path("orders/<int:order_id>", api.order_detail, name="api-order"),
    path("orders/<int:order_id>/status", api.order_status, name="api-order-status"),
    path("orders/<int:order_id>/comments", api.order_comments, name="api-order-comments"),
]

page_urlpatterns = [
    path("stores/", views.store_list, name="store-list"),
    path("stores/<int:store_id>/", views.dashboard, name="dashboard"),
]
