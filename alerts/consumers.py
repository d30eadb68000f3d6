from django.conf import settings

from alerts import selectors
from ws import groups
from ws.consumers import JsonSocket
from ws.db import in_tenant


class NotificationsSocket(JsonSocket):
    """`/ws/notifications/`: a signed-in user's personal alerts."""

    async def opened(self):
        # Join before reading the snapshot: a notification committed in
        # between then arrives twice (snapshot and live, same id) rather
        # than never. Clients deduplicate by id.
        await self.join(groups.user_notifications(self.tenant, self.user.pk))
        snapshot = await in_tenant(
            self.tenant, selectors.unread_snapshot, user=self.user, limit=settings.NOTIFICATIONS_ON_CONNECT
        )
        await self.send_frame(snapshot)
