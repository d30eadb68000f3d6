"""Time an announcement to a large audience, in a transaction that is rolled back.

    python manage.py measure_announcement --schema acme --users 20000

Measures what the admin's request costs and what the delivery job costs
(inbox copies, unread counts, the live pushes through the configured
channel layer), then rolls everything back.
"""

import time

from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from channels_redis.core import RedisChannelLayer
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection

from alerts import selectors, services
from platform_core.measure import rolled_back_in
from alerts.models import Notification
from ws import events, groups
from ws.layer import publish_many_now


class Command(BaseCommand):
    help = "Time an announcement to N users: request, inbox copies, pushes (rolled back)."

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True)
        parser.add_argument("--users", type=int, default=20_000)
        parser.add_argument("--online", type=int, default=2_000, help="users with a socket open (simulated members)")

    def handle(self, *args, schema, users, online, **options):
        self.online = online
        with rolled_back_in(schema, say=self.stdout.write):
            self.measure(users)

    def measure(self, count):
        User = get_user_model()
        User.objects.bulk_create(User(username=f"bench-{i}") for i in range(count))
        admin = User.objects.create(username="bench-admin", is_tenant_admin=True)

        t0 = time.perf_counter()
        announcement = services.announcement_create(author=admin, title="Inventory", body="Closed at 18:00", audience="everyone")
        request_ms = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        created = services._insert_copies(announcement)
        insert_s = time.perf_counter() - t0

        # Simulate open sockets: put a channel in the groups of `online` users.
        layer = channel_layers[DEFAULT_CHANNEL_LAYER]
        # Only the core layer keeps membership in Redis to simulate; with the
        # pub/sub layer every recipient is sent a PUBLISH (cheap when nobody
        # subscribed), so there is nothing to fake.
        simulate = isinstance(layer, RedisChannelLayer)
        members = [(groups.user_notifications(connection.tenant, uid), f"bench.{uid}!x")
                   for _, uid in created[: self.online]] if simulate else []
        for group, channel in members:
            async_to_sync(layer.group_add)(group, channel)
        try:
            self.deliver(announcement, created, insert_s, request_ms)
        finally:
            for group, channel in members:
                async_to_sync(layer.group_discard)(group, channel)

    def deliver(self, announcement, created, insert_s, request_ms):
        t0 = time.perf_counter()
        online = services._online(created)
        online_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        counts = selectors.unread_counts(user_ids=[uid for _, uid in online])
        counts_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        messages = [
            (groups.user_notifications(connection.tenant, uid), events.to_json(events.NotificationCreated(
                notification=events.NotificationData(id=nid, kind=Notification.Kind.ANNOUNCEMENT, title=announcement.title,
                                                     body=announcement.body, url="/notifications/",
                                                     created_at=announcement.publish_at.isoformat(), read=False),
                unread_count=counts[uid])))
            for nid, uid in online
        ]
        serialize_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        failed = publish_many_now(messages)
        push_s = time.perf_counter() - t0

        n = len(online)
        total = insert_s + online_s + counts_s + serialize_s + push_s
        self.stdout.write(f"recipients: {len(created)}, online: {n}")
        self.stdout.write(f"admin request (validate, store, schedule): {request_ms:.1f} ms")
        self.stdout.write(f"inbox copies (one INSERT … SELECT):         {insert_s * 1000:.0f} ms")
        self.stdout.write(f"who is online (one EXISTS script):          {online_s * 1000:.0f} ms")
        self.stdout.write(f"unread counts (one grouped query):          {counts_s * 1000:.0f} ms")
        self.stdout.write(f"frames serialized:                          {serialize_s * 1000:.0f} ms")
        self.stdout.write(f"pushes ({n} group sends, {failed} failed):     {push_s * 1000:.0f} ms")
        self.stdout.write(f"delivery job in all:                        {total:.2f} s")
