from django.conf import settings

from alerts import selectors, services
from platform_core.errors import ApplicationError
from ws import groups
from ws.consumers import JsonSocket
from ws.db import in_tenant

MISSED_LIMIT = 200


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
        snapshot = await in_tenant(
            self.tenant, selectors.unread_snapshot, user=self.user, limit=settings.NOTIFICATIONS_ON_CONNECT
        )
        await self.send_frame(snapshot)
        if after is not None:
            missed = await in_tenant(self.tenant, selectors.missed_since, user=self.user, after=after, limit=MISSED_LIMIT)
            await self.send_frame(missed)

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
