from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Notifications"

    def ready(self):
        from alerts import announcements  # noqa: F401  (registers the announcement job handlers)
