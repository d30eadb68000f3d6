from django.apps import AppConfig


class WsConfig(AppConfig):
    """The WebSocket stack. No models; installed for its static client module."""

    name = "ws"
    verbose_name = "WebSockets"
