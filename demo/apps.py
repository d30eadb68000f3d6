from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo of the contract (`manage.py seed_demo`). It touches every
    app, so it sits above them all; no models."""

    name = "demo"
    verbose_name = "Demo"
