"""Seen, archive, unarchive and pages over the socket: every tab of the
user agrees, the other tenant's user 1 hears nothing, bad frames get an
error and change nothing; and the language a notification is read in."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import translation
from django_tenants.utils import tenant_context

from alerts import kinds
from alerts.models import Notification
from alerts.services import notification_create
from tests.factories import create_order, login_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def notify(cast, who, title):
    with tenant_context(cast.tenant):
        return notification_create(recipient=getattr(cast, who), kind="system", title=title)


anotify = sync_to_async(notify)


@sync_to_async
def states(cast, who="customer"):
    with tenant_context(cast.tenant):
        return list(
            Notification.objects.filter(recipient=getattr(cast, who))
            .order_by("id")
            .values_list("id", "seen_at", "read_at", "archived_at")
        )


async def tab(open_socket, cast, who="customer", **headers):
    socket = await open_socket(
        "/ws/notifications/",
        host=f"{cast.tenant.schema_name}.localhost",
        cookie=await login_cookie(cast.tenant, getattr(cast, who)),
        **headers,
    )
    first = await socket.receive()
    assert first["type"] == "notifications.unread"
    return socket, first


async def next_of(socket, type_: str) -> dict:
    """The next frame of `type_`, skipping others (notification.created while paging)."""
    for _ in range(50):
        frame = await socket.receive()
        if frame["type"] == type_:
            return frame
    raise AssertionError(f"no {type_} frame")


async def test_seen_archive_unarchive_reach_every_tab_and_no_other_tenant(open_socket, world):
    a = await anotify(world.acme, "customer", "a")
    b = await anotify(world.acme, "customer", "b")
    await anotify(world.globex, "customer", "twin a")  # the same ids in globex
    await anotify(world.globex, "customer", "twin b")
    tab1, first = await tab(open_socket, world.acme)
    tab2, _ = await tab(open_socket, world.acme)
    twin, twin_first = await tab(open_socket, world.globex)
    assert first["unseen_count"] == 2 and twin_first["unseen_count"] == 2
    assert [n["id"] for n in twin_first["notifications"]] == [b.pk, a.pk]

    await tab1.send({"type": "notifications.mark_seen", "ids": [a.pk]})
    for socket in (tab1, tab2):
        assert await socket.receive() == {"type": "notifications.seen", "ids": [a.pk], "unseen_count": 1, "all": False}

    await tab2.send({"type": "notifications.archive", "ids": [b.pk]})
    for socket in (tab1, tab2):
        assert await socket.receive() == {
            "type": "notifications.archived",
            "ids": [b.pk],
            "unread_count": 1,
            "unseen_count": 0,
            "all": False,
        }

    await tab1.send({"type": "notifications.unarchive", "ids": [b.pk]})
    for socket in (tab1, tab2):
        frame = await socket.receive()
        assert frame["type"] == "notifications.unarchived"
        assert frame["ids"] == [b.pk] and frame["unread_count"] == 1 and frame["unseen_count"] == 0
        assert [n["id"] for n in frame["notifications"]] == [b.pk]
        assert frame["notifications"][0]["archived_at"] is None and frame["notifications"][0]["read_at"]

    c = await anotify(world.acme, "customer", "c")
    for socket in (tab1, tab2):
        assert (await socket.receive())["notification"]["id"] == c.pk
    await tab2.send({"type": "notifications.mark_seen", "all": True})
    for socket in (tab1, tab2):
        assert await socket.receive() == {"type": "notifications.seen", "ids": [c.pk], "unseen_count": 0, "all": True}
    await tab1.send({"type": "notifications.archive", "read": True})
    for socket in (tab1, tab2):
        frame = await socket.receive()
        assert frame["type"] == "notifications.archived" and frame["ids"] == [b.pk] and frame["all"] is True

    assert await twin.nothing()
    assert all(row[1:] == (None, None, None) for row in await states(world.globex))


HOSTILE = [
    {"type": "notifications.mark_seen"},
    {"type": "notifications.mark_seen", "ids": []},
    {"type": "notifications.mark_seen", "ids": ["1"]},
    {"type": "notifications.mark_seen", "ids": ["١"]},
    {"type": "notifications.mark_seen", "ids": [-1]},
    {"type": "notifications.mark_seen", "ids": [[1]]},
    {"type": "notifications.mark_seen", "ids": None},
    {"type": "notifications.mark_seen", "ids": list(range(1, 10_002))},
    {"type": "notifications.mark_seen", "all": False},
    {"type": "notifications.mark_seen", "all": True, "ids": [1]},
    {"type": "notifications.mark_seen", "read": True},
    {"type": "notifications.archive", "read": "yes"},
    {"type": "notifications.archive", "all": True},
    {"type": "notifications.archive", "ids": {"1": 1}},
    {"type": "notifications.unarchive"},
    {"type": "notifications.unarchive", "read": True},
    {"type": "notifications.page", "box": "inbox"},
    {"type": "notifications.page", "box": 1},
    {"type": "notifications.page", "box": None, "limit": 0},
    {"type": "notifications.page", "limit": 101},
    {"type": "notifications.page", "limit": "١٢"},
    {"type": "notifications.page", "before": -5},
    {"type": "notifications.page", "before": 2**70},
    {"type": "notifications.page", "before": {"id": 1}},
    {"type": "notifications.page", "cursor": 1},
]


async def test_bad_frames_get_an_error_keep_the_socket_and_change_nothing(open_socket, world, settings):
    settings.WS_MESSAGE_BURST = 100  # every frame answered, none dropped by the rate limit
    await anotify(world.acme, "customer", "a")
    socket, _ = await tab(open_socket, world.acme)
    before = await states(world.acme)
    for message in HOSTILE:
        await socket.send(message)
        frame = await socket.receive()
        assert frame["type"] == "error" and frame["code"] == "invalid_message", (message, frame)
    await socket.send({"type": "ping"})
    assert await socket.receive() == {"type": "pong"}
    assert await states(world.acme) == before


async def test_someone_elses_ids_are_reported_to_this_socket_only(open_socket, world):
    theirs = await anotify(world.acme, "staff1", "theirs")
    mine = await anotify(world.acme, "customer", "mine")
    socket, _ = await tab(open_socket, world.acme)
    staff, _ = await tab(open_socket, world.acme, "staff1")
    await socket.send({"type": "notifications.archive", "ids": [theirs.pk, mine.pk]})
    frames = [await socket.receive(), await socket.receive()]
    assert {f["type"] for f in frames} == {"notifications.archived", "error"}
    assert next(f for f in frames if f["type"] == "notifications.archived")["ids"] == [mine.pk]
    assert await staff.nothing()
    assert (await states(world.acme, "staff1"))[0][1:] == (None, None, None)


async def test_socket_pages_match_http_and_neither_repeats_nor_skips_while_new_ones_arrive(open_socket, world):
    @sync_to_async
    def make_120():
        with tenant_context(world.acme.tenant):
            return [
                notification_create(recipient=world.acme.customer, kind="system", title=f"n{i}").pk for i in range(120)
            ]

    first = await make_120()
    socket, _ = await tab(open_socket, world.acme)
    client = Client(HTTP_HOST="acme.localhost")

    @sync_to_async
    def sign_in():
        with tenant_context(world.acme.tenant):
            client.force_login(world.acme.customer)

    await sign_in()
    got, before = [], None
    while True:
        await socket.send({"type": "notifications.page", "box": "all", "before": before, "limit": 30})
        page = await next_of(socket, "notifications.page")
        http = await sync_to_async(client.get)(
            "/api/notifications?box=all&limit=30" + (f"&before={before}" if before else "")
        )
        assert [n["id"] for n in page["results"]] == [n["id"] for n in http.json()["results"]]
        assert page["next"] == http.json()["next"] and page["before"] == before and page["box"] == "all"
        got += [n["id"] for n in page["results"]]
        await anotify(world.acme, "customer", "arrived while paging")
        before = page["next"]
        if before is None:
            break
    assert got == sorted(first, reverse=True)


# --- language --------------------------------------------------------------------------------
def spanish_catalog_has(msgid: str) -> bool:
    with translation.override("es"):
        return translation.gettext(msgid) != msgid


STATUS_TITLE = "Order %(ref)s is now %(status)s"


def rendered(language: str, params: dict) -> str:
    with translation.override(language):
        return kinds.render("order_status", params, "", "")[0]


@sync_to_async
def set_language(cast, who, language):
    with tenant_context(cast.tenant):
        assert get_user_model().objects.filter(pk=getattr(cast, who).pk).update(language=language) == 1


@sync_to_async
def staff_changes_status(cast, order, status):
    """staff1, an English speaker, through the API, with an English browser."""
    client = Client(HTTP_HOST=f"{cast.tenant.schema_name}.localhost", HTTP_ACCEPT_LANGUAGE="en")
    with tenant_context(cast.tenant):
        client.force_login(cast.staff1)
    response = client.post(
        f"/api/orders/{order.pk}/status", data=json.dumps({"status": status}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.headers["Content-Language"] == "en"


@sync_to_async
def inbox_titles(cast, who="customer", accept_language="en"):
    client = Client(HTTP_HOST=f"{cast.tenant.schema_name}.localhost", HTTP_ACCEPT_LANGUAGE=accept_language)
    with tenant_context(cast.tenant):
        client.force_login(getattr(cast, who))
    return [n["title"] for n in client.get("/api/notifications").json()["results"]]


async def test_a_spanish_customer_reads_an_english_staff_members_status_change_in_spanish(
    open_socket, world, published
):
    cast = world.acme
    await set_language(cast, "customer", "es")
    await set_language(cast, "staff1", "en")
    order = await sync_to_async(create_order)(cast.tenant, customer=cast.customer, external_id="A-7")
    socket, _ = await tab(open_socket, cast, accept_language="en")
    await staff_changes_status(cast, order, "accepted")

    frame = await next_of(socket, "notification.created")
    params = {"ref": "A-7", "status": "accepted"}
    spanish, english = rendered("es", params), rendered("en", params)
    assert english == "Order A-7 is now Accepted"
    assert frame["notification"]["title"] == spanish
    assert frame["notification"]["order_id"] == order.pk and frame["notification"]["url"] == f"/orders/{order.pk}/"
    # It was published rendered for the customer's language, with what
    # another language needs beside it.
    push = next(p for p in published if p.frame["type"] == "notification.created")
    assert push.extra == {"lang": "es", "render": {str(frame["notification"]["id"]): params}}
    assert (await inbox_titles(cast, accept_language="en"))[0] == spanish

    # The customer switches to English: old notifications read in English.
    await set_language(cast, "customer", "en")
    assert (await inbox_titles(cast, accept_language="es"))[0] == english
    again, first = await tab(open_socket, cast, accept_language="es")
    assert first["notifications"][0]["title"] == english

    assert spanish_catalog_has(STATUS_TITLE)
    assert spanish != english


async def test_a_socket_in_another_language_renders_the_frame_again(open_socket, world, published):
    """No language of the user's nor the tenant's: the publish is rendered
    in the default, and a socket whose browser asks for Spanish renders it
    again from the params carried beside it."""
    cast = world.acme
    order = await sync_to_async(create_order)(cast.tenant, customer=cast.customer, external_id="B-1")
    spanish_tab, _ = await tab(open_socket, cast, accept_language="es-ES,es;q=0.9")
    english_tab, _ = await tab(open_socket, cast, accept_language="en")
    await staff_changes_status(cast, order, "accepted")
    params = {"ref": "B-1", "status": "accepted"}
    assert (await next_of(spanish_tab, "notification.created"))["notification"]["title"] == rendered("es", params)
    assert (await next_of(english_tab, "notification.created"))["notification"]["title"] == rendered("en", params)
    push = next(p for p in published if p.frame["type"] == "notification.created")
    assert push.extra["lang"] == "en"
    assert spanish_catalog_has(STATUS_TITLE)
    assert rendered("es", params) != rendered("en", params)


@sync_to_async
def mute(cast, who, kind):
    from alerts.services import preferences_update

    with tenant_context(cast.tenant):
        preferences_update(user=getattr(cast, who), kinds_channels={kind: {"in_app": False}})


@sync_to_async
def make_critical(cast, kind, critical):
    from alerts.services import kind_policies_update

    with tenant_context(cast.tenant):
        kind_policies_update(actor=cast.admin, policies={kind: {"critical": critical}})


async def test_muting_a_kind_or_making_it_critical_moves_every_tabs_counts_and_no_one_elses(open_socket, world):
    """No notification changes, yet what the bell counts does: every tab of
    the user hears the new counts (an outside test saw stale badges); the
    other tenant's user with the same id hears nothing."""
    for title in ("a", "b", "c"):
        await anotify(world.acme, "customer", title)
    await anotify(world.globex, "customer", "twin")
    tab1, first = await tab(open_socket, world.acme)
    tab2, _ = await tab(open_socket, world.acme)
    twin, _ = await tab(open_socket, world.globex)
    assert (first["unread_count"], first["unseen_count"]) == (3, 3)

    await mute(world.acme, "customer", "system")
    for socket in (tab1, tab2):
        assert await next_of(socket, "notifications.counts") == {
            "type": "notifications.counts",
            "unread_count": 0,
            "unseen_count": 0,
        }

    await make_critical(world.acme, "system", True)  # nobody may mute it now: counted again
    for socket in (tab1, tab2):
        assert await next_of(socket, "notifications.counts") == {
            "type": "notifications.counts",
            "unread_count": 3,
            "unseen_count": 3,
        }
    await make_critical(world.acme, "system", False)  # muted again, as the customer chose
    assert (await next_of(tab1, "notifications.counts"))["unread_count"] == 0
    assert await twin.nothing(timeout=0.5)
