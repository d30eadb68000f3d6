import asyncio
import json
import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone, translation

from alerts import kinds, selectors, services
from platform_core.errors import ApplicationError
from ws import events
from ws.consumers import JsonSocket
from ws.db import in_tenant
from ws.loops import per_event_loop

MISSED_LIMIT = 200
logger = logging.getLogger(__name__)


def in_language(language: str, func, /, **kwargs):
    """`func(**kwargs)` with `language` active (on the DB thread: what it
    renders is in the socket's language)."""
    with translation.override(language):
        return func(**kwargs)


def rerender(text: str, params_by_id: dict, language: str) -> str:
    """A published frame (rendered in its recipient's language) in
    `language`: the title and body of each notification in it with params
    rendered again. Only sockets whose language differs pay for it (a user
    who changed language with a socket open, or one with no language of
    their own whose browser asks for another)."""
    frame = json.loads(text)
    notifications = frame.get("notifications") or []
    if "notification" in frame:
        notifications = [frame["notification"], *notifications]
    with translation.override(language):
        for notification in notifications:
            params = params_by_id.get(str(notification.get("id")))
            if params is not None:
                notification["title"], notification["body"] = kinds.render(
                    notification["kind"], params, notification["title"], notification["body"]
                )
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


class NotificationsSocket(JsonSocket):
    """`/ws/notifications/[?after=<notification id>]`: a signed-in user's personal alerts."""

    handlers = {
        **JsonSocket.handlers,
        "notifications.mark_read": "on_mark_read",
        "notifications.mark_all_read": "on_mark_all_read",
        "notifications.mark_seen": "on_mark_seen",
        "notifications.archive": "on_archive",
        "notifications.unarchive": "on_unarchive",
        "notifications.page": "on_page",
    }

    async def opened(self):
        # Join before reading: a notification committed in between arrives
        # twice (in the snapshot and live, same id) rather than never.
        # Clients deduplicate by id. The hub may hand frames over before the
        # snapshot is sent: they wait here, so the snapshot comes first.
        self.early: list[dict] | None = []
        await self.join_user_stream()
        after = await self.query_position("after")
        snapshot, missed, latest, tenant_newest = await in_tenant(
            self.tenant,
            in_language,
            self.language,
            selectors.connect_state,
            user=self.user,
            after=after,
            limit=settings.NOTIFICATIONS_ON_CONNECT,
            missed_limit=MISSED_LIMIT,
        )
        await self.send_frame(snapshot)
        if missed is not None:
            await self.send_frame(missed)
        # The socket's position: everything up to the user's newest
        # notification was in the database when it connected (and a
        # `missed` cut at its limit says so; the inbox API pages the rest).
        self.last_id = latest
        # Notifications made from now on have higher ids: the bells' repair
        # needs to look no lower for this socket.
        self.checked_from = tenant_newest
        early, self.early = self.early, None
        for message in early:
            self.deliver(message)
        if settings.NOTIFICATIONS_HEARTBEAT_SECONDS > 0:
            bell_watch().add(self)

    async def disconnect(self, code):
        bell_watch().discard(self)
        await super().disconnect(code)

    def deliver(self, message: dict) -> None:
        if self.early is not None:
            self.early.append(message)
            return
        render = message.get("render")
        if render and message.get("lang") != self.language:
            message = {**message, "text": rerender(message["text"], render, self.language)}
        super().deliver(message)
        if "seq" in message:  # a notification.created; its id
            self.last_id = max(self.last_id, message["seq"])

    async def catch_up(self) -> None:
        """Send what was created after this socket's position (its live push
        was lost), with the unread count as of now."""
        missed = await in_tenant(
            self.tenant,
            in_language,
            self.language,
            selectors.missed_since,
            user=self.user,
            after=self.last_id,
            limit=MISSED_LIMIT,
        )
        if missed.notifications:
            await self.send_frame(missed)
            self.last_id = max([self.last_id] + [n.id for n in missed.notifications])

    async def on_mark_read(self, message: dict) -> None:
        if set(message) - {"type", "ids"}:
            raise ApplicationError("invalid", "mark_read takes only `ids`")
        result = await in_tenant(self.tenant, services.notifications_mark_read, user=self.user, ids=message.get("ids"))
        # Every socket of the user (this one too) hears `notifications.read`
        # through the group; ids that are not the user's are reported here only.
        if result.unknown_ids:
            shown = ", ".join(map(str, result.unknown_ids[:20]))
            await self.send_error("invalid_message", f"not your notifications, or no such ids: {shown}")

    async def on_mark_all_read(self, message: dict) -> None:
        if set(message) - {"type"}:
            raise ApplicationError("invalid", "mark_all_read takes no fields")
        await in_tenant(self.tenant, services.notifications_mark_all_read, user=self.user)

    async def _ids_or_flag(self, message: dict, flag: str | None, one, every) -> None:
        """`{"ids": [...]}` → `one(user, ids)`, or `{flag: true}` → `every(user)`.
        Every socket of the user hears the outcome through the group; ids
        that are not the user's are reported to this socket only."""
        allowed = {"type", "ids"} | ({flag} if flag else set())
        name = message["type"]
        if set(message) - allowed:
            raise ApplicationError("invalid", f"{name} takes {' or '.join(sorted(allowed - {'type'}))} only")
        if flag and ("ids" in message) == (flag in message):
            raise ApplicationError("invalid", f"{name} takes either `ids` or `{flag}: true`")
        if flag and flag in message:
            if message[flag] is not True:
                raise ApplicationError("invalid", f"`{flag}` must be true")
            await in_tenant(self.tenant, every, user=self.user)
            return
        result = await in_tenant(self.tenant, one, user=self.user, ids=message.get("ids"))
        if result.unknown_ids:
            shown = ", ".join(map(str, result.unknown_ids[:20]))
            await self.send_error("invalid_message", f"not your notifications, or no such ids: {shown}")

    async def on_mark_seen(self, message: dict) -> None:
        await self._ids_or_flag(message, "all", services.notifications_mark_seen, services.notifications_mark_all_seen)

    async def on_archive(self, message: dict) -> None:
        await self._ids_or_flag(message, "read", services.notifications_archive, services.notifications_archive_read)

    async def on_unarchive(self, message: dict) -> None:
        await self._ids_or_flag(message, None, services.notifications_unarchive, None)

    async def on_page(self, message: dict) -> None:
        """A page of a box, to this socket only, as GET /api/notifications gives it."""
        if set(message) - {"type", "box", "before", "limit"}:
            raise ApplicationError("invalid", "notifications.page takes box, before and limit only")
        box, before, limit = selectors.check_page(
            box=message.get("box"), before=message.get("before"), limit=message.get("limit")
        )
        rows, next_before = await in_tenant(
            self.tenant, in_language, self.language, self._page, box=box, before=before, limit=limit
        )
        await self.send_frame(events.NotificationsPage(box=box, before=before, results=rows, next=next_before))

    def _page(self, *, box: str, before: int | None, limit: int):
        rows, next_before = selectors.inbox_page(user=self.user, name=box, before=before, limit=limit)
        return [selectors.notification_data(n) for n in rows], next_before


class BellWatch:
    """Per worker process: repair live pushes that never came.

    A push lost to a Redis blip too short for the layer check to close the
    sockets would otherwise show only at the next reconnect. Every
    NOTIFICATIONS_HEARTBEAT_SECONDS, one query per tenant reads the
    notifications created since the previous beat (ignoring the last
    LOST_AFTER_SECONDS, whose pushes may still be on their way); only
    sockets whose user got one they have not seen read and send what they
    missed.

    Each beat reads only the new rows (ids above the tenant's high-water
    mark, a primary-key range), never the whole inbox of every connected
    user: an earlier version asked for the newest id of each of 10,000
    connected users, a scan of their inboxes every beat, and the personal
    notifications' p99 rose from ~6 ms to ~1.1 s in the bench. A socket
    that joins brings the tenant's newest id at its connect (everything up
    to it was in its snapshot), so the mark never starts above it.

    A notification whose transaction commits more than LOST_AFTER_SECONDS
    after its row was inserted can fall under the mark unseen: its push is
    then recovered at the next connect, as before.
    """

    LOST_AFTER_SECONDS = 2.0

    def __init__(self):
        self.sockets: set[NotificationsSocket] = set()
        self.marks: dict[str, int] = {}  # tenant schema → every id up to here was checked
        self.task: asyncio.Task | None = None

    def add(self, socket: "NotificationsSocket") -> None:
        self.sockets.add(socket)
        schema = socket.tenant.schema_name
        self.marks[schema] = min(self.marks.get(schema, socket.checked_from), socket.checked_from)
        if self.task is None:
            self.task = asyncio.create_task(self._run())

    def discard(self, socket: "NotificationsSocket") -> None:
        self.sockets.discard(socket)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(settings.NOTIFICATIONS_HEARTBEAT_SECONDS)
            by_tenant: dict[str, list[NotificationsSocket]] = defaultdict(list)
            for socket in list(self.sockets):
                by_tenant[socket.tenant.schema_name].append(socket)
            for schema in list(self.marks):
                if schema not in by_tenant:
                    del self.marks[schema]  # no bell of that tenant here any more
            for sockets in by_tenant.values():
                try:
                    await self._check(sockets)
                except Exception:  # the database may be restarting: the next beat tries again
                    logger.warning("notifications heartbeat failed", exc_info=True)

    async def _check(self, sockets: list["NotificationsSocket"]) -> None:
        schema = sockets[0].tenant.schema_name
        before = timezone.now() - timedelta(seconds=self.LOST_AFTER_SECONDS)
        mark = self.marks.get(schema, 0)
        newest = await in_tenant(sockets[0].tenant, selectors.newest_ids_since, after_id=mark, before=before)
        if newest:
            self.marks[schema] = max(self.marks.get(schema, 0), max(newest.values()))
        for socket in sockets:
            if newest.get(socket.user.pk, 0) > socket.last_id and socket in self.sockets:
                await socket.catch_up()


bell_watch = per_event_loop(BellWatch)
