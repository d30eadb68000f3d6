from django.apps import AppConfig


class WsConfig(AppConfig):
    """The WebSocket stack. No models; installed for its static client module and
    the receivers that close sockets whose access ended."""

    name = "ws"
    verbose_name = "WebSockets"

    def ready(self):
        from ws import access  # noqa: F401  (connects the receivers that close revoked sockets)
