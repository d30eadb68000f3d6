"""`/ws/stores/<id>/orders/`: who may watch, live events, replay, the seam, repair."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connections
from django_tenants.utils import tenant_context

from orders import selectors
from stores.models import PresenceSession
from tests.factories import add_comment, change_status, create_order, login_cookie
from ws import close_codes, groups
from ws.hub import hub
from ws.reads import READERS_PER_STATEMENT

pytestmark = pytest.mark.django_db(transaction=True)

acreate_order = sync_to_async(create_order)
achange_status = sync_to_async(change_status)
aadd_comment = sync_to_async(add_comment)
PATH = "/ws/stores/1/orders/"


async def dashboard(open_socket, cast, *, store_id=1, after=None, host=None):
    query = "" if after is None else f"?after={after}"
    return await open_socket(
        f"/ws/stores/{store_id}/orders/{query}",
        host=host or f"{cast.tenant.schema_name}.localhost",
        cookie=await login_cookie(cast.tenant, cast.staff1),
    )


async def stream_frames(socket, count, timeout=3):
    """The next `count` frames that carry a seq, skipping presence/heartbeats."""
    frames = []
    while len(frames) < count:
        frame = await socket.receive(timeout=timeout)
        if "seq" in frame:
            frames.append(frame)
    return frames


async def until(socket, frame_type, timeout=3):
    while True:
        frame = await socket.receive(timeout=timeout)
        if frame["type"] == frame_type:
            return frame


# --- who may watch ---------------------------------------------------------------
@pytest.mark.parametrize(
    "who,store_id,expected",
    [
        ("staff2", 1, close_codes.FORBIDDEN),
        ("customer", 1, close_codes.FORBIDDEN),
        ("admin", 1, close_codes.FORBIDDEN),  # tenant admins are not on a dashboard unless staff
        ("staff1", 2, close_codes.FORBIDDEN),
        ("staff1", 999, close_codes.NOT_FOUND),
        ("staff1", 2**63, close_codes.NOT_FOUND),
    ],
)
async def test_only_staff_of_that_store_may_watch(open_socket, world, who, store_id, expected):
    socket = await open_socket(
        f"/ws/stores/{store_id}/orders/", cookie=await login_cookie(world.acme.tenant, getattr(world.acme, who))
    )
    assert await socket.closed_with() == expected


@pytest.mark.parametrize("path", ["/ws/stores/abc/orders/", "/ws/stores/-1/orders/", "/ws/stores/1/orders/x/"])
async def test_malformed_store_paths_are_not_found(open_socket, world, path):
    socket = await open_socket(path, cookie=await login_cookie(world.acme.tenant, world.acme.staff1))
    assert await socket.closed_with() == close_codes.NOT_FOUND


async def test_anonymous_is_4401(open_socket, world):
    assert await (await open_socket(PATH)).closed_with() == close_codes.NOT_SIGNED_IN


async def test_acme_session_is_nobody_on_globex_store_with_the_same_id(open_socket, world):
    socket = await open_socket(
        PATH, host="globex.localhost", cookie=await login_cookie(world.acme.tenant, world.acme.staff1)
    )
    assert await socket.closed_with() == close_codes.NOT_SIGNED_IN


async def test_manager_role_may_watch(open_socket, world):
    socket = await open_socket(PATH, cookie=await login_cookie(world.acme.tenant, world.acme.manager1))
    assert (await until(socket, "stream.live"))["latest_seq"] == 0


# --- live ---------------------------------------------------------------------------
async def test_staff_receive_every_event_of_their_store_and_none_of_the_other_tenant(open_socket, world):
    acme_socket = await dashboard(open_socket, world.acme)
    globex_socket = await dashboard(open_socket, world.globex)
    await until(acme_socket, "stream.live")
    await until(globex_socket, "stream.live")

    order = await acreate_order(world.acme.tenant, external_id="A-1", total="5.00")
    await achange_status(world.acme.tenant, order, "accepted")
    await aadd_comment(world.acme.tenant, order, world.acme.staff1, "two minutes")
    await acreate_order(world.acme.tenant, store_id=2)  # another store of acme

    frames = await stream_frames(acme_socket, 3)
    assert [(f["seq"], f["type"]) for f in frames] == [
        (1, "order.created"),
        (2, "order.status_changed"),
        (3, "order.comment_added"),
    ]
    assert frames[0]["data"]["order"]["external_id"] == "A-1"
    assert frames[0]["data"]["order"]["total"] == "5.00"
    assert frames[2]["data"]["comment"]["body"] == "two minutes"
    assert await nothing_but(acme_socket, "presence")
    assert await nothing_but(globex_socket, "presence")


async def nothing_but(socket, *frame_types) -> bool:
    while True:
        frame = await socket.next_or_none()
        if frame is None:
            return True
        if frame["type"] not in frame_types:
            return False


# --- replay and the seam ---------------------------------------------------------------
async def test_reconnecting_with_after_gets_exactly_what_was_missed_then_live(open_socket, world):
    acme = world.acme.tenant
    first = await dashboard(open_socket, world.acme)
    await until(first, "stream.live")
    await acreate_order(acme)
    await acreate_order(acme)
    seen = await stream_frames(first, 2)
    await first.communicator.disconnect()

    missed = [await acreate_order(acme) for _ in range(3)]
    again = await dashboard(open_socket, world.acme, after=seen[-1]["seq"])
    replayed = await stream_frames(again, 3)
    assert [f["seq"] for f in replayed] == [3, 4, 5]
    assert [f["data"]["order"]["id"] for f in replayed] == [o.pk for o in missed]
    assert (await until(again, "stream.live"))["latest_seq"] == 5

    await acreate_order(acme)
    assert [f["seq"] for f in await stream_frames(again, 1)] == [6]


async def test_replayed_frames_are_identical_to_the_live_ones(open_socket, world):
    live = await dashboard(open_socket, world.acme)
    await until(live, "stream.live")
    order = await acreate_order(world.acme.tenant)
    await achange_status(world.acme.tenant, order, "cancelled")
    live_frames = await stream_frames(live, 2)
    replay = await dashboard(open_socket, world.acme, after=0)
    assert await stream_frames(replay, 2) == live_frames


async def test_no_duplicate_and_no_hole_at_the_seam_while_orders_keep_coming(open_socket, world, settings):
    """Orders are committed from another thread while the socket replays in
    small batches: the socket must show 1..N exactly once, in order."""
    settings.STREAM_REPLAY_BATCH = 2
    acme = world.acme.tenant
    for _ in range(10):
        await acreate_order(acme)

    def keep_ordering():
        for _ in range(20):
            create_order(acme)
        connections.close_all()

    # Another thread, as a concurrent request would be under ASGI.
    writer = asyncio.create_task(sync_to_async(keep_ordering, thread_sensitive=False)())
    socket = await dashboard(open_socket, world.acme, after=0)
    frames = await stream_frames(socket, 30, timeout=10)
    await writer
    assert [f["seq"] for f in frames] == list(range(1, 31))
    assert await nothing_but(socket, "presence", "stream.live")


def pages_read(monkeypatch) -> list[tuple[int, int]]:
    """(after, max_bytes) of every replay page read from the DB thread from now on."""
    pages, real = [], selectors.stream_after

    def counted(**page):
        pages.append((page["after"], page["max_bytes"]))
        return real(**page)

    monkeypatch.setattr(selectors, "stream_after", counted)
    return pages


async def test_a_replay_in_pages_bounded_by_bytes_sends_every_event_once_in_order(
    open_socket, world, settings, monkeypatch
):
    settings.STREAM_REPLAY_PAGE_BYTES = 1  # one event per page, the connect's first page too
    pages = pages_read(monkeypatch)
    for _ in range(7):
        await acreate_order(world.acme.tenant)
    socket = await dashboard(open_socket, world.acme, after=2)
    assert [f["seq"] for f in await stream_frames(socket, 5)] == [3, 4, 5, 6, 7]
    assert await nothing_but(socket, "presence", "stream.live")
    await socket.send({"type": "resume", "after": 0})  # and a resume, page by page
    assert [f["seq"] for f in await stream_frames(socket, 7)] == list(range(1, 8))
    await until(socket, "stream.live")  # the replay is over
    assert [after for after, _ in pages[-8:]] == list(range(8))  # a page after each event, and one that found the end


async def test_a_connect_s_first_page_is_its_share_of_a_page_and_the_rest_follows_in_full_pages(
    open_socket, world, settings, monkeypatch
):
    # Read with up to READERS_PER_STATEMENT other openings (ws/reads.py):
    # its share of STREAM_REPLAY_PAGE_BYTES, here room for one event.
    settings.STREAM_REPLAY_PAGE_BYTES = READERS_PER_STATEMENT * 200
    pages = pages_read(monkeypatch)
    for _ in range(5):
        await acreate_order(world.acme.tenant)
    socket = await dashboard(open_socket, world.acme, after=0)
    assert [f["seq"] for f in await stream_frames(socket, 5)] == [1, 2, 3, 4, 5]
    await until(socket, "stream.live")
    assert pages == [(1, READERS_PER_STATEMENT * 200)]  # after the first event, the rest in one full page


async def test_after_beyond_the_end_gets_a_reset_not_a_guess(open_socket, world):
    await acreate_order(world.acme.tenant)
    socket = await dashboard(open_socket, world.acme, after=50)
    frame = await until(socket, "reset")
    assert frame["latest_seq"] == 1 and "50" in frame["detail"]
    await acreate_order(world.acme.tenant)
    assert [f["seq"] for f in await stream_frames(socket, 1)] == [2]


@pytest.mark.parametrize("after", ["abc", "-1", "1.5", "9" * 30, "²", "٣", "３"])
async def test_malformed_after_gets_an_error_frame_and_a_fresh_start(open_socket, world, after):
    socket = await dashboard(open_socket, world.acme, after=after)
    frame = await until(socket, "error")
    assert frame["code"] == "invalid_message"
    assert (await until(socket, "stream.live"))["latest_seq"] == 0


# --- resume and repair -------------------------------------------------------------------
async def test_client_can_ask_for_a_hole_with_resume(open_socket, world):
    socket = await dashboard(open_socket, world.acme)
    await until(socket, "stream.live")
    for _ in range(4):
        await acreate_order(world.acme.tenant)
    await stream_frames(socket, 4)
    await socket.send({"type": "resume", "after": 1})
    assert [f["seq"] for f in await stream_frames(socket, 3)] == [2, 3, 4]
    assert (await until(socket, "stream.live"))["latest_seq"] == 4


@pytest.mark.parametrize(
    "message",
    [
        {"type": "resume"},
        {"type": "resume", "after": -1},
        {"type": "resume", "after": "x"},
        {"type": "resume", "after": True},
        {"type": "resume", "after": 1.5},
        {"type": "resume", "after": 2**70},
        {"type": "resume", "after": "²"},
        {"type": "resume", "after": "٣"},
        {"type": "resume", "after": None},
        {"type": "resume", "after": 1, "extra": 1},
    ],
)
async def test_bad_resume_gets_an_error_and_the_socket_stays_open(open_socket, world, message):
    socket = await dashboard(open_socket, world.acme)
    await until(socket, "stream.live")
    await socket.send(message)
    frame = await until(socket, "error")
    assert frame["code"] == "invalid_message"
    await socket.send({"type": "ping"})
    assert (await until(socket, "pong"))["type"] == "pong"


def hub_channel() -> str:
    """The channel through which this worker (this test's event loop) receives store frames."""
    return hub().channel


async def test_a_live_event_lost_by_the_channel_layer_is_repaired_from_the_database(open_socket, world):
    """The layer drops a message for this worker (as channels-redis does when
    a channel is full, or the pub/sub layer while a subscription is down):
    the next live event reveals the hole and the socket fills it from the
    database before sending it."""
    acme = world.acme.tenant
    socket = await dashboard(open_socket, world.acme)
    await until(socket, "stream.live")
    channel = hub_channel()
    group = groups.store_orders(acme, 1)
    layer = get_channel_layer()

    await acreate_order(acme)
    await layer.group_discard(group, channel)
    lost = await acreate_order(acme)  # published while the socket is not in the group
    await layer.group_add(group, channel)
    await acreate_order(acme)

    frames = await stream_frames(socket, 3)
    assert [f["seq"] for f in frames] == [1, 2, 3]
    assert frames[1]["data"]["order"]["id"] == lost.pk


async def test_heartbeat_tells_idle_sockets_the_latest_seq_and_repairs_a_lost_last_event(open_socket, world, settings):
    settings.STREAM_HEARTBEAT_SECONDS = 0.2
    acme = world.acme.tenant
    socket = await dashboard(open_socket, world.acme)
    await until(socket, "stream.live")
    assert (await until(socket, "heartbeat"))["latest_seq"] == 0

    await get_channel_layer().group_discard(groups.store_orders(acme, 1), hub_channel())
    lost = await acreate_order(acme)  # the last event, and nothing follows it

    frame = await stream_frames(socket, 1)
    assert frame[0]["seq"] == 1 and frame[0]["data"]["order"]["id"] == lost.pk
    assert (await until(socket, "heartbeat"))["latest_seq"] == 1


# --- presence ---------------------------------------------------------------------------------
async def test_presence_lists_who_is_on_the_dashboard(open_socket, world):
    staff = await dashboard(open_socket, world.acme)
    assert [u["username"] for u in (await until(staff, "presence"))["users"]] == ["staff1"]

    manager = await open_socket(PATH, cookie=await login_cookie(world.acme.tenant, world.acme.manager1))
    names = [u["username"] for u in (await until(staff, "presence"))["users"]]
    assert names == ["manager1", "staff1"]
    assert [u["username"] for u in (await until(manager, "presence"))["users"]] == ["manager1", "staff1"]

    await manager.communicator.disconnect()
    assert [u["username"] for u in (await until(staff, "presence"))["users"]] == ["staff1"]


async def test_an_order_pages_socket_gets_the_stream_but_is_not_present(open_socket, world):
    staff = await dashboard(open_socket, world.acme)
    assert [u["username"] for u in (await until(staff, "presence"))["users"]] == ["staff1"]
    reader = await open_socket(
        PATH + "?after=0&presence=off", cookie=await login_cookie(world.acme.tenant, world.acme.manager1)
    )
    assert (await until(reader, "stream.live"))["latest_seq"] == 0
    order = await acreate_order(world.acme.tenant)
    assert (await stream_frames(reader, 1))[0]["data"]["order"]["id"] == order.pk
    assert await nothing_but(staff, "heartbeat", "order.created"), "manager1 was listed on the board"

    def present():
        with tenant_context(world.acme.tenant):
            return sorted(PresenceSession.objects.values_list("user__username", flat=True))

    assert await sync_to_async(present)() == ["staff1"]
    await reader.communicator.disconnect()
    assert await nothing_but(staff, "heartbeat")


async def test_presence_never_crosses_tenants_or_stores(open_socket, world):
    acme_staff = await dashboard(open_socket, world.acme)
    await until(acme_staff, "presence")
    await dashboard(open_socket, world.globex)  # same user id, same store id, other tenant
    await open_socket("/ws/stores/2/orders/", cookie=await login_cookie(world.acme.tenant, world.acme.staff2))
    assert await nothing_but(acme_staff, "heartbeat")


async def test_another_tab_of_a_present_user_costs_no_broadcast(open_socket, world):
    first = await dashboard(open_socket, world.acme)
    assert [u["username"] for u in (await until(first, "presence"))["users"]] == ["staff1"]
    second = await dashboard(open_socket, world.acme)  # the same user again
    assert [u["username"] for u in (await until(second, "presence"))["users"]] == ["staff1"]
    assert await nothing_but(first, "heartbeat")
    await second.communicator.disconnect()
    assert await nothing_but(first, "heartbeat"), "staff1 is still present in the first tab"


async def test_a_ghost_left_by_a_dead_worker_expires(open_socket, world, settings):
    settings.STREAM_HEARTBEAT_SECONDS = 0.3
    # Long enough for the ghost to be listed first on a loaded machine (the
    # socket's connect and its presence batch come before), short for a test.
    settings.PRESENCE_TTL_SECONDS = 1.5

    def ghost():
        # The row a socket on a worker that was killed leaves behind.
        from django.utils import timezone

        with tenant_context(world.acme.tenant):
            PresenceSession.objects.create(
                store_id=1, user=world.acme.manager1, worker="dead-worker", seen_at=timezone.now()
            )

    await sync_to_async(ghost)()
    socket = await dashboard(open_socket, world.acme)
    assert [u["username"] for u in (await until(socket, "presence"))["users"]] == ["manager1", "staff1"]
    assert [u["username"] for u in (await until(socket, "presence", timeout=5))["users"]] == ["staff1"]


# --- a replay flood costs its sender, not the others ------------------------------------
@sync_to_async
def many_orders(tenant, count: int) -> None:
    for _ in range(count):
        create_order(tenant)


async def test_one_replay_in_flight_per_socket(open_socket, world, settings):
    settings.STREAM_REPLAY_BATCH = 10
    await many_orders(world.acme.tenant, 60)
    socket = await dashboard(open_socket, world.acme)
    await until(socket, "stream.live")
    await socket.send({"type": "resume", "after": 0})
    await socket.send({"type": "resume", "after": 0})  # while the first is still running
    frames = []
    while (frame := await socket.receive(timeout=5))["type"] != "stream.live":
        frames.append(frame)
    errors = [f for f in frames if f["type"] == "error"]
    assert [(e["code"], "in progress" in e["detail"]) for e in errors] == [("rate_limited", True)]
    assert [f["seq"] for f in frames if "seq" in f] == list(range(1, 61))  # one replay, whole and in order


async def test_a_replay_is_charged_to_the_socket_s_budget_by_its_size(open_socket, world, settings):
    settings.STREAM_REPLAY_BATCH, settings.WS_MESSAGE_BURST, settings.WS_MESSAGES_PER_SECOND = 10, 20, 0.01
    await many_orders(world.acme.tenant, 120)  # 12 pages a replay from the start
    socket = await dashboard(open_socket, world.acme)
    await until(socket, "stream.live")
    await socket.send({"type": "resume", "after": 0})  # 1 message + 12 pages: 13 of 20
    assert (await until(socket, "stream.live", timeout=10))["latest_seq"] == 120
    await socket.send({"type": "resume", "after": 0})  # 13 more: over the budget
    refused = await until(socket, "error")
    assert refused["code"] == "rate_limited" and "costs 12" in refused["detail"]
    await socket.send({"type": "resume", "after": 115})  # a small hole still fits (1 + 1)
    assert [f["seq"] for f in await stream_frames(socket, 5)] == [116, 117, 118, 119, 120]
