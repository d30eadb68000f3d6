import asyncio
import contextlib
import logging

from django.conf import settings

from alerts import selectors, services
from platform_core.errors import ApplicationError
from ws import events, groups
from ws.consumers import JsonSocket
from ws.db import in_tenant

MISSED_LIMIT = 200
logger = logging.getLogger(__name__)


class NotificationsSocket(JsonSocket):
    """`/ws/notifications/[?after=<notification id>]`: a signed-in user's personal alerts."""

    handlers = {
        **JsonSocket.handlers,
        "notifications.mark_read": "on_mark_read",
        "notifications.mark_all_read": "on_mark_all_read",
    }

    async def opened(self):
        # Join before reading: a notification committed in between arrives
        # twice (in the snapshot and live, same id) rather than never.
        # Clients deduplicate by id.
        await self.join(groups.user_notifications(self.tenant, self.user.pk))
        after = await self.query_position("after")
        snapshot, missed, latest = await in_tenant(
            self.tenant, selectors.connect_state, user=self.user, after=after,
            limit=settings.NOTIFICATIONS_ON_CONNECT, missed_limit=MISSED_LIMIT,
        )
        await self.send_frame(snapshot)
        if missed is not None:
            await self.send_frame(missed)
        # The socket's position: everything up to the user's newest
        # notification was in the database when it connected (and a
        # `missed` cut at its limit says so; the inbox API pages the rest).
        self.last_id = latest
        self.heartbeat = asyncio.create_task(self._heartbeat())

    async def disconnect(self, code):
        heartbeat = getattr(self, "heartbeat", None)
        if heartbeat:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        await super().disconnect(code)

    async def event_forward(self, message: dict) -> None:
        await super().event_forward(message)
        if "seq" in message:  # a notification.created; its id
            self.last_id = max(self.last_id, message["seq"])

    async def _heartbeat(self) -> None:
        """Repair a live push that never came (a publish lost to a Redis
        blip too short to close the socket), and keep the badge true."""
        while True:
            await asyncio.sleep(settings.NOTIFICATIONS_HEARTBEAT_SECONDS)
            try:
                after = self.last_id
                missed, unread = await in_tenant(
                    self.tenant, selectors.catch_up, user=self.user, after=after, limit=MISSED_LIMIT
                )
                if missed.notifications:
                    await self.send_frame(missed)
                    self.last_id = max([self.last_id] + [n.id for n in missed.notifications])
                await self.send_frame(events.NotificationsHeartbeat(latest_id=self.last_id, unread_count=unread))
            except Exception:
                # The database may be restarting; the next beat tries again.
                logger.warning("notifications heartbeat failed", exc_info=True)

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
