from django.urls import path, re_path

from alerts.consumers import NotificationsSocket
from ws.consumers import NotFoundSocket

websocket_urlpatterns = [
    path("ws/notifications/", NotificationsSocket.as_asgi()),
    re_path(r"", NotFoundSocket.as_asgi()),
]
