"""Every frame the server sends, as typed, JSON-safe schemas.

A frame is a frozen dataclass with a dotted `type`. Fields hold only JSON
primitives (str, int, bool, None, lists and nested frames): channels-redis
carries messages as msgpack, which cannot encode Decimal, datetime or UUID,
so those are turned into strings where the payload is built. `to_json`
serializes a frame once; the text is what travels through the channel layer
and what every socket sends, unchanged.
"""

import json
from dataclasses import asdict, dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Frame:
    type: ClassVar[str]


def to_json(frame: Frame) -> str:
    return json.dumps({"type": frame.type, **asdict(frame)}, separators=(",", ":"), ensure_ascii=False)


# --- Generic frames -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Pong(Frame):
    type: ClassVar[str] = "pong"


@dataclass(frozen=True, slots=True)
class Error(Frame):
    """A refused client message. The socket stays open."""

    type: ClassVar[str] = "error"
    code: str  # invalid_json | unknown_type | invalid_message | rate_limited
    detail: str


# --- Notifications --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NotificationData:
    id: int
    kind: str
    title: str
    body: str
    url: str
    created_at: str  # ISO-8601, UTC
    read: bool


@dataclass(frozen=True, slots=True)
class NotificationsUnread(Frame):
    """Sent once on connect: what the user has not read yet."""

    type: ClassVar[str] = "notifications.unread"
    unread_count: int
    notifications: list[NotificationData]  # newest first, at most the configured limit
    has_more: bool  # unread ones exist beyond `notifications`


@dataclass(frozen=True, slots=True)
class NotificationCreated(Frame):
    type: ClassVar[str] = "notification.created"
    notification: NotificationData
