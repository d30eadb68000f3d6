from django.urls import path, re_path

from alerts.consumers import NotificationsSocket
from orders.consumers import StoreOrdersSocket
from ws.consumers import NotFoundSocket

websocket_urlpatterns = [
    path("ws/notifications/", NotificationsSocket.as_asgi()),
    path("ws/stores/<int:store_id>/orders/", StoreOrdersSocket.as_asgi()),
    re_path(r"", NotFoundSocket.as_asgi()),
]
