"""Every frame the server sends, as typed, JSON-safe schemas.

A frame is a frozen dataclass with a dotted `type`. Fields hold only JSON
primitives (str, int, bool, None, lists and nested frames): channels-redis
carries messages as msgpack, which cannot encode Decimal, datetime or UUID,
so those are turned into strings where the payload is built. `to_json`
serializes a frame once; the text is what travels through the channel layer
and what every socket sends, unchanged.
"""

import json
from dataclasses import dataclass, fields
from functools import cache
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Frame:
    type: ClassVar[str]


def to_json(frame: Frame) -> str:
    return json.dumps({"type": frame.type, **_plain(frame)}, separators=(",", ":"), ensure_ascii=False)


@cache
def _field_names(cls) -> tuple[str, ...]:
    return tuple(field.name for field in fields(cls))


def _plain(value):
    # dataclasses.asdict deep-copies every value; frames hold only JSON
    # primitives, so walking the fields is enough and several times faster
    # (it matters when an announcement is serialized for 20,000 users).
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


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
    """One notification, as HTTP and sockets show it; `title` and `body` in
    the reader's language (alerts/kinds.py)."""

    id: int
    kind: str
    title: str
    body: str
    url: str
    created_at: str  # ISO-8601, UTC
    read: bool  # read_at is not null (kept for older clients)
    seen_at: str | None = None
    read_at: str | None = None
    archived_at: str | None = None
    order_id: int | None = None


@dataclass(frozen=True, slots=True)
class NotificationsUnread(Frame):
    """Sent once on connect: what the user has not read yet."""

    type: ClassVar[str] = "notifications.unread"
    unread_count: int
    notifications: list[NotificationData]  # newest first, at most the configured limit
    has_more: bool  # unread ones exist beyond `notifications`
    unseen_count: int = 0  # the bell's badge


@dataclass(frozen=True, slots=True)
class NotificationCreated(Frame):
    type: ClassVar[str] = "notification.created"
    notification: NotificationData
    unread_count: int  # right after this one arrived
    unseen_count: int = 0  # the badge, right after this one arrived


@dataclass(frozen=True, slots=True)
class NotificationsMissed(Frame):
    """On connect with ?after=<id>, and whenever a live push was lost: what
    was created since, read or not."""

    type: ClassVar[str] = "notifications.missed"
    after: int
    notifications: list[NotificationData]  # oldest first
    has_more: bool  # more than the limit were created since; page the inbox API
    unread_count: int  # as of this frame
    unseen_count: int = 0


@dataclass(frozen=True, slots=True)
class NotificationsRead(Frame):
    """To every socket of the user: these are read (and so seen) now."""

    type: ClassVar[str] = "notifications.read"
    ids: list[int]
    unread_count: int
    all: bool  # "mark all read": every notification up to now is read
    unseen_count: int = 0


@dataclass(frozen=True, slots=True)
class NotificationsCounts(Frame):
    """To every socket of the user: the counts changed with no notification
    changing (a kind muted or unmuted in the app, made critical or not)."""

    type: ClassVar[str] = "notifications.counts"
    unread_count: int
    unseen_count: int


@dataclass(frozen=True, slots=True)
class NotificationsSeen(Frame):
    """To every socket of the user: these were seen (an opened bell)."""

    type: ClassVar[str] = "notifications.seen"
    ids: list[int]
    unseen_count: int
    all: bool = False  # "mark all seen": every notification up to now is seen


@dataclass(frozen=True, slots=True)
class NotificationsArchived(Frame):
    """To every socket of the user: these moved to the archived box (and are read)."""

    type: ClassVar[str] = "notifications.archived"
    ids: list[int]
    unread_count: int
    unseen_count: int
    all: bool = False  # "archive all read": every read one up to now is archived


@dataclass(frozen=True, slots=True)
class NotificationsUnarchived(Frame):
    """To every socket of the user: these are back in the inbox (still read)."""

    type: ClassVar[str] = "notifications.unarchived"
    ids: list[int]
    unread_count: int
    unseen_count: int
    notifications: list[NotificationData]  # newest first, to put back in place


@dataclass(frozen=True, slots=True)
class NotificationsPage(Frame):
    """To the socket that asked (`notifications.page`): one page of a box."""

    type: ClassVar[str] = "notifications.page"
    box: str  # all | unread | archived
    before: int | None
    results: list[NotificationData]  # newest first
    next: int | None  # `before` of the next page; None at the end


@dataclass(frozen=True, slots=True)
class NotificationsRemoved(Frame):
    """These are gone from the inbox (an expired announcement)."""

    type: ClassVar[str] = "notifications.removed"
    ids: list[int]
    unread_count: int
    unseen_count: int = 0


# --- Store order stream -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderData:
    id: int
    external_id: str
    store_id: int
    status: str
    total: str  # a decimal as a string ("12.50"): exact, and msgpack-safe
    currency: str
    customer: str | None  # the customer's username
    # The name to show: as the shop system sent it, else the account's full
    # name; "" when neither is known.
    customer_name: str
    # orders.line_items.LineItem.as_json() each (amounts as decimal strings,
    # free-form values as JSON primitives); orders saved before that schema
    # carry their items as sent, which were JSON too.
    line_items: list[dict]
    notes: str
    cancel_reason: str  # "" unless cancelled with a reason
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class CommentData:
    id: int
    order_id: int
    author: str | None
    body: str
    created_at: str


@dataclass(frozen=True, slots=True)
class OrderEventData:
    order: OrderData
    previous_status: str | None = None  # order.status_changed only
    comment: CommentData | None = None  # order.comment_added only


@dataclass(frozen=True, slots=True)
class StoreStreamFrame(Frame):
    """An entry of a store's stream; `seq` counts from 1 per store, gap-free."""

    seq: int
    store_id: int
    data: OrderEventData


@dataclass(frozen=True, slots=True)
class OrderCreated(StoreStreamFrame):
    type: ClassVar[str] = "order.created"


@dataclass(frozen=True, slots=True)
class OrderUpdated(StoreStreamFrame):
    type: ClassVar[str] = "order.updated"


@dataclass(frozen=True, slots=True)
class OrderStatusChanged(StoreStreamFrame):
    type: ClassVar[str] = "order.status_changed"


@dataclass(frozen=True, slots=True)
class OrderCommentAdded(StoreStreamFrame):
    type: ClassVar[str] = "order.comment_added"


# --- An order's page ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """A step of an order's status timeline: `previous_status` is None for
    its creation (the first entry, at the order's `created_at`)."""

    status: str
    previous_status: str | None
    at: str  # ISO-8601, UTC
    reason: str  # the cancel reason, "" if none


@dataclass(frozen=True, slots=True)
class OrderChange:
    """What changed: `kind` "status" (with `entry`, the timeline's new last
    entry), "comment" (with `comment`) or "updated" (another field: the
    order itself says what it is now)."""

    kind: str
    entry: TimelineEntry | None = None
    comment: CommentData | None = None


@dataclass(frozen=True, slots=True)
class OrderChanged(Frame):
    """To the order's customer's sockets (`/ws/notifications/`), after commit:
    their order as it is now (the keys of GET /api/orders/<id> but its
    lists, `comments` and `timeline`) and the change to apply."""

    type: ClassVar[str] = "order.changed"
    order: OrderData
    change: OrderChange


@dataclass(frozen=True, slots=True)
class StreamLive(Frame):
    """Replay (if any) is over; what follows is live. `latest_seq` is where the socket stands."""

    type: ClassVar[str] = "stream.live"
    latest_seq: int


@dataclass(frozen=True, slots=True)
class Heartbeat(Frame):
    """Sent to idle sockets: a client whose last `seq` is lower has lost events."""

    type: ClassVar[str] = "heartbeat"
    latest_seq: int


@dataclass(frozen=True, slots=True)
class Reset(Frame):
    """The requested `after` is not a position of this stream (e.g. beyond its end).

    The client must reload the store's orders over HTTP and resume from
    `latest_seq`.
    """

    type: ClassVar[str] = "reset"
    latest_seq: int
    detail: str


@dataclass(frozen=True, slots=True)
class PresentUser:
    id: int
    username: str


@dataclass(frozen=True, slots=True)
class Presence(Frame):
    type: ClassVar[str] = "presence"
    store_id: int
    users: list[PresentUser]


# --- Between workers (never sent to a client) ---------------------------------------
@dataclass(frozen=True, slots=True)
class AccessChanged(Frame):
    """To every worker: re-check the open sockets of this user of this tenant.

    `session` (a digest, ws/access.py) or `token` name a credential that
    ended: sockets opened with it close without asking the database, which
    may not have caught up yet (Django deletes a session after the logout
    signal).
    """

    type: ClassVar[str] = "access.changed"
    tenant: str  # schema name
    user: int
    session: str | None = None
    token: int | None = None
