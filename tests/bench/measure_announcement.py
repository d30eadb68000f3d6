"""Time an announcement to a large audience, in a transaction that is rolled back.

    DEBUG=true REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m tests.bench.measure_announcement \
        --schema acme --users 20000 --online 2000

Measures what the admin's request costs and what the delivery job costs
(inbox copies, who is online, unread counts, frames, the live pushes
through the configured channel layer), phase by phase, through the same
public functions the delivery job runs (alerts/announcements.py), then
rolls everything back.
"""

import argparse
import asyncio
import contextlib
import threading
import time

from tests.bench.rollback import django_setup

django_setup()

from channels.layers import get_channel_layer  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from alerts import selectors  # noqa: E402
from alerts.announcements import announcement_create, copies_insert, copies_online, created_frame  # noqa: E402
from tests.bench.rollback import rolled_back_in  # noqa: E402
from ws import events, groups  # noqa: E402
from ws.layer import publish_to_users_now  # noqa: E402


def measure(*, schema: str, users: int = 20_000, online: int = 2_000, say=print) -> None:
    with rolled_back_in(schema, say=say):
        _measure(users, online, say)


def _measure(count: int, online_count: int, say) -> None:
    User = get_user_model()
    User.objects.bulk_create(User(username=f"bench-{i}") for i in range(count))
    admin = User.objects.create(username="bench-admin", is_tenant_admin=True)

    t0 = time.perf_counter()
    announcement = announcement_create(author=admin, title="Inventory", body="Closed at 18:00", audience="everyone")
    request_ms = (time.perf_counter() - t0) * 1000

    t0 = time.perf_counter()
    created = copies_insert(announcement)
    insert_s = time.perf_counter() - t0

    members = [groups.user_notifications(connection.tenant, uid) for _, uid in created[:online_count]]
    with simulated_bells(members):
        t0 = time.perf_counter()
        online = copies_online(created)
        online_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        counts = selectors.badges(user_ids=[uid for _, uid in online])
        counts_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        messages = [(uid, events.to_json(created_frame(announcement, nid, counts[uid])), nid) for nid, uid in online]
        serialize_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        failed = publish_to_users_now(messages)
        push_s = time.perf_counter() - t0

    n = len(online)
    total = insert_s + online_s + counts_s + serialize_s + push_s
    say(f"recipients: {len(created)}, online: {n}")
    say(f"admin request (validate, store, schedule): {request_ms:.1f} ms")
    say(f"inbox copies (one INSERT … SELECT):         {insert_s * 1000:.0f} ms")
    say(f"who is online (pipelined NUMSUB):           {online_s * 1000:.0f} ms")
    say(f"unread counts (one grouped query):          {counts_s * 1000:.0f} ms")
    say(f"frames serialized:                          {serialize_s * 1000:.0f} ms")
    say(f"pushes ({n} group sends, {failed} failed):     {push_s * 1000:.0f} ms")
    say(f"delivery job in all:                        {total:.2f} s")


@contextlib.contextmanager
def simulated_bells(group_names: list[str]):
    """Open sockets, simulated: one channel in each of these groups, held by
    an event loop of its own on another thread (the pub/sub layer
    subscribes per loop), as the bells of a worker would be."""
    ready, done = threading.Event(), threading.Event()

    async def hold():
        layer = get_channel_layer()
        channel = await layer.new_channel("bench.")
        for name in group_names:
            await layer.group_add(name, channel)
        ready.set()
        while not done.is_set():
            await asyncio.sleep(0.05)
        for name in group_names:
            await layer.group_discard(name, channel)

    thread = threading.Thread(target=lambda: asyncio.run(hold()), daemon=True)
    thread.start()
    if not ready.wait(60):
        raise RuntimeError("the simulated bells did not subscribe in time")
    try:
        yield
    finally:
        done.set()
        thread.join(60)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schema", required=True)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--online", type=int, default=2_000, help="users with a socket open (simulated)")
    args = parser.parse_args()
    measure(schema=args.schema, users=args.users, online=args.online)
