"""A publish that fails never fails the request, and an outage is logged
once, not once per event (logged errors are what reaches Sentry)."""

import logging

from tests.servers import free_port
from ws import layer
from ws.layer import publish_now


def test_an_outage_is_logged_once_with_its_traceback_not_per_event(settings, caplog, monkeypatch):
    # A real Redis client against a port where nothing listens: every send is refused.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]},
        }
    }
    monkeypatch.setattr(layer, "_failures", layer._FailureReports())
    with caplog.at_level(logging.ERROR, logger="ws.layer"):
        for n in range(20):
            publish_now(f"t1.pedidos_{n}", "{}")  # raises nothing
    errors = [record for record in caplog.records if record.name == "ws.layer"]
    assert len(errors) == 1
    assert errors[0].exc_info is not None and "publish to t1.pedidos_0 failed" in errors[0].getMessage()

    layer._failures.last -= layer._FailureReports.REPORT_SECONDS  # the next report is due
    with caplog.at_level(logging.ERROR, logger="ws.layer"):
        publish_now("t1.pedidos_x", "{}")
    assert "19 more failures" in caplog.records[-1].getMessage()
