"""The one way out to the sockets. Nothing else touches the channel layer
for sending.

A publish happens only after the transaction that produced the event
commits, so no socket ever hears of a row that was rolled back. A failed
publish is logged and reported, never raised: the data is already saved,
and clients recover it from the database (unread replay, `seq` resume).
"""

import logging

import sentry_sdk
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from ws.events import Frame, to_json

logger = logging.getLogger(__name__)

# The consumer method that receives published frames (`event.forward` →
# `event_forward`): it sends the pre-serialized text as it is.
FORWARD = "event.forward"


def publish_on_commit(group: str, frame: Frame, *, seq: int | None = None) -> str:
    """Send `frame` to `group` once the current transaction commits.

    The frame is serialized now, once, so later changes to the rows it was
    built from cannot alter what was committed; the text is returned for
    callers that also store it. `seq` (store streams) travels beside the
    text so consumers can order and deduplicate without parsing it.
    """
    text = to_json(frame)
    transaction.on_commit(lambda: publish_now(group, text, seq=seq))
    return text


def publish_now(group: str, text: str, *, seq: int | None = None) -> None:
    """Send already-committed, serialized text to a group (sync callers)."""
    message = {"type": FORWARD, "text": text}
    if seq is not None:
        message["seq"] = seq
    try:
        async_to_sync(channel_layer().group_send)(group, message)
    except Exception:
        logger.exception("publish to %s failed; clients will recover from the database", group)
        sentry_sdk.capture_exception()


def channel_layer():
    return get_channel_layer()
