from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Notifications"

    def ready(self):
        from alerts import announcements, digest, offsite, push, services  # noqa: F401  (register their job handlers)
