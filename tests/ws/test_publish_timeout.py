"""A publish that hangs gives up in time, is reported like a failure, and
leaves nothing running (the real hung Redis: tests/faults/test_redis_outage.py)."""

import asyncio
import logging
import time

from ws import layer
from ws.layer import publish_many_now, publish_now


class HangingLayer:
    """A channel layer whose sends to groups named `hang…` never finish."""

    def __init__(self):
        self.started = 0
        self.finished = 0
        self.delivered: list[str] = []

    async def group_send(self, group, message):
        self.started += 1
        try:
            if group.startswith("hang"):
                await asyncio.Event().wait()
            self.delivered.append(group)
        finally:
            self.finished += 1


def test_a_publish_that_hangs_gives_up_after_the_timeout_and_leaves_nothing_running(settings, monkeypatch, caplog):
    hanging = HangingLayer()
    monkeypatch.setattr(layer, "get_channel_layer", lambda: hanging)
    monkeypatch.setattr(layer, "_failures", layer._FailureReports())
    settings.PUBLISH_TIMEOUT_SECONDS = 0.2

    with caplog.at_level(logging.ERROR, logger="ws.layer"):
        for n in range(5):
            started = time.monotonic()
            publish_now(f"hang.{n}", "{}")  # raises nothing
            assert 0.2 <= time.monotonic() - started < 1

    assert hanging.started == hanging.finished == 5  # every send was cancelled, none left waiting
    errors = [record for record in caplog.records if record.name == "ws.layer"]
    assert len(errors) == 1  # an outage is reported once, not per event
    assert "publish to hang.0 timed out after 0.2 s" in errors[0].getMessage()


def test_a_batch_has_one_budget_and_what_it_did_not_send_counts_as_failed(settings, monkeypatch, caplog):
    hanging = HangingLayer()
    monkeypatch.setattr(layer, "get_channel_layer", lambda: hanging)
    monkeypatch.setattr(layer, "_failures", layer._FailureReports())
    settings.PUBLISH_BATCH_TIMEOUT_SECONDS = 0.3
    # 250 sends, 100 at a time: the first chunk is fine, the second has 5
    # that never finish, so the third is never started.
    messages = [(f"{'hang' if 100 <= n < 105 else 'ok'}.{n}", "{}", n) for n in range(250)]

    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="ws.layer"):
        failed = publish_many_now(messages)
    took = time.monotonic() - started

    assert failed == 250 - 195 and len(hanging.delivered) == 195
    assert 0.3 <= took < 1.5
    assert hanging.started == hanging.finished == 200  # the chunk in flight was cancelled and awaited
    assert "55 of 250 publishes failed (out of time after 0.3 s)" in caplog.records[-1].getMessage()


def test_a_batch_within_its_budget_sends_everything(settings, monkeypatch):
    hanging = HangingLayer()
    monkeypatch.setattr(layer, "get_channel_layer", lambda: hanging)
    assert publish_many_now([(f"ok.{n}", "{}") for n in range(250)]) == 0
    assert len(hanging.delivered) == 250
