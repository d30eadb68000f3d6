"""Measure unread counts at scale, in a transaction that is rolled back.

    python manage.py measure_unread --schema acme --notifications 100000

Fills the tenant with users and notifications (most of them read, as a
real inbox is), times the queries the product runs per connect and per
notification, prints the query plan, and then rolls everything back, so
it can run against any database without leaving data behind.
"""

import random
import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from django.utils import timezone

from alerts import selectors, services
from platform_core.measure import rolled_back_in
from alerts.models import Notification


class Command(BaseCommand):
    help = "Time unread counts and the connect snapshot with many notifications in one tenant (rolled back)."

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True)
        parser.add_argument("--notifications", type=int, default=100_000)
        parser.add_argument("--users", type=int, default=1_000)
        parser.add_argument("--unread-share", type=float, default=0.1)
        parser.add_argument("--runs", type=int, default=300)

    def handle(self, *args, schema, notifications, users, unread_share, runs, **options):
        with rolled_back_in(schema, say=self.stdout.write):
            self.measure(notifications, users, unread_share, runs)

    def measure(self, total, user_count, unread_share, runs):
        started = time.perf_counter()
        User = get_user_model()
        people = User.objects.bulk_create(User(username=f"bench-{i}") for i in range(user_count))
        # One heavy user holds a tenth of everything; the rest is spread out.
        heavy = people[0]
        now = timezone.now()
        rng = random.Random(7)
        kinds = Notification.Kind.values
        batch = []
        for i in range(total):
            recipient = heavy if i % 10 == 0 else people[rng.randrange(1, user_count)]
            unread = rng.random() < unread_share
            batch.append(Notification(recipient=recipient, kind=rng.choice(kinds), title=f"n{i}",
                                      created_at=now, read_at=None if unread else now))
            if len(batch) == 10_000:
                Notification.objects.bulk_create(batch)
                batch = []
        Notification.objects.bulk_create(batch)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Notification._meta.db_table}")
        self.stdout.write(f"filled {total} notifications for {user_count} users in {time.perf_counter() - started:.1f}s")

        typical = people[1]
        cases = {
            "unread_count (heavy user)": lambda: selectors.unread_count(user=heavy),
            "unread_count (typical user)": lambda: selectors.unread_count(user=typical),
            "connect snapshot, 50 newest (heavy user)": lambda: selectors.unread_snapshot(user=heavy, limit=50),
            "missed since an id (typical user)": lambda: selectors.missed_since(user=typical, after=0, limit=200),
        }
        self.stdout.write(f"{'query':45} {'p50 ms':>8} {'p99 ms':>8}  (runs={runs})")
        for name, call in cases.items():
            timings = []
            for _ in range(runs):
                t0 = time.perf_counter()
                call()
                timings.append((time.perf_counter() - t0) * 1000)
            timings.sort()
            p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
            self.stdout.write(f"{name:45} {statistics.median(timings):8.3f} {p99:8.3f}")

        t0 = time.perf_counter()
        result = services.notifications_mark_all_read(user=heavy)
        self.stdout.write(f"mark_all_read (heavy user, {len(result.ids)}+ rows): {(time.perf_counter() - t0) * 1000:.1f} ms")

        muted = selectors.muted_kinds(user=heavy)
        query = Notification.objects.filter(recipient=typical, read_at__isnull=True).exclude(kind__in=muted or ["-"])
        self.stdout.write("plan of the unread count:")
        self.stdout.write(query.explain())
