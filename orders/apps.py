from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self):
        from orders import signals, unattended  # noqa: F401  (connects the receivers, registers the job handler)
        from orders.integrations import services  # noqa: F401  (registers the log's retention job)
