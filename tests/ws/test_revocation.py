"""Access that ends closes the sockets it opened (one process; the two-worker
matrix is tests/security/test_revocation_matrix.py)."""

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from platform_core.access import Credential
from platform_core.tokens import api_token_create, api_token_revoke, ws_ticket_issue
from stores.models import PresenceSession, StaffMembership
from tests.factories import create_order, login_cookie, session_cookie
from tests.sockets import closed, first_frames, still_open
from ws import close_codes

pytestmark = pytest.mark.django_db(transaction=True)
STORE = "/ws/stores/1/orders/"
BELL = "/ws/notifications/"


@sync_to_async
def in_acme(world, change):
    with tenant_context(world.acme.tenant):
        return change()


async def test_staff_removed_from_the_store_lose_its_board_but_keep_their_bell(world, open_socket):
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    board = await open_socket(STORE, cookie=cookie)
    bell = await open_socket(BELL, cookie=cookie)
    await first_frames(board, "stream.live")
    await first_frames(bell, "notifications.unread")
    # globex's staff1: the same user id and store id, another tenant.
    twin = await open_socket(
        STORE, host="globex.localhost", cookie=await login_cookie(world.globex.tenant, world.globex.staff1)
    )
    await first_frames(twin, "stream.live")

    await in_acme(world, lambda: StaffMembership.objects.get(user=world.acme.staff1, store_id=1).delete())

    assert await closed(board) == close_codes.FORBIDDEN
    assert await bell.next_or_none() is None  # still open, nothing to say
    assert await still_open(bell)
    assert await still_open(twin)
    # The presence row went with the socket, at once.
    assert await in_acme(world, lambda: PresenceSession.objects.filter(user=world.acme.staff1).count()) == 0


async def test_a_deactivated_user_loses_every_socket(world, open_socket):
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    board, bell = await open_socket(STORE, cookie=cookie), await open_socket(BELL, cookie=cookie)
    await first_frames(board, "stream.live")
    await first_frames(bell, "notifications.unread")

    def deactivate():
        world.acme.staff1.is_active = False
        world.acme.staff1.save()

    await in_acme(world, deactivate)
    assert await closed(board) == close_codes.NOT_SIGNED_IN
    assert await closed(bell) == close_codes.NOT_SIGNED_IN
    again = await open_socket(BELL, cookie=cookie)
    assert await again.closed_with() == close_codes.NOT_SIGNED_IN


async def test_signing_out_closes_that_session_s_sockets_only(world, open_socket):
    signing_out = await login_cookie(world.acme.tenant, world.acme.staff1)
    other_tab_session = await login_cookie(world.acme.tenant, world.acme.staff1)
    doomed = await open_socket(BELL, cookie=signing_out)
    kept = await open_socket(BELL, cookie=other_tab_session)
    await first_frames(doomed, "notifications.unread")
    await first_frames(kept, "notifications.unread")

    @sync_to_async
    def sign_out():
        response = Client(HTTP_HOST="acme.localhost", HTTP_COOKIE=signing_out).post("/accounts/logout/")
        connection.set_schema_to_public()
        return response.status_code

    assert await sign_out() == 302
    assert await closed(doomed) == close_codes.NOT_SIGNED_IN
    assert await still_open(kept)


async def test_a_new_password_closes_sockets_of_older_sessions(world, open_socket):
    cookie = await login_cookie(world.acme.tenant, world.acme.customer)
    bell = await open_socket(BELL, cookie=cookie)
    await first_frames(bell, "notifications.unread")

    def new_password():
        world.acme.customer.set_password("another-long-passphrase")
        world.acme.customer.save()

    await in_acme(world, new_password)
    assert await closed(bell) == close_codes.NOT_SIGNED_IN


async def test_revoking_a_token_closes_the_sockets_its_tickets_opened(world, open_socket):
    @sync_to_async
    def ticket_and_token():
        with tenant_context(world.acme.tenant):
            token, _ = api_token_create(user=world.acme.staff1, name="kitchen display")
            return token.pk, ws_ticket_issue(user=world.acme.staff1, credential=Credential(token_id=token.pk))

    token_id, ticket = await ticket_and_token()
    by_ticket = await open_socket(f"{STORE}?ticket={ticket}", origin=None)
    by_cookie = await open_socket(STORE, cookie=await login_cookie(world.acme.tenant, world.acme.staff1))
    await first_frames(by_ticket, "stream.live")
    await first_frames(by_cookie, "stream.live")

    await in_acme(world, lambda: api_token_revoke(user=world.acme.staff1, token_id=token_id))
    assert await closed(by_ticket) == close_codes.NOT_SIGNED_IN
    assert await still_open(by_cookie)


async def test_a_ticket_of_a_revoked_token_opens_nothing(world, open_socket):
    @sync_to_async
    def revoked_ticket():
        with tenant_context(world.acme.tenant):
            token, _ = api_token_create(user=world.acme.staff1, name="leaked")
            ticket = ws_ticket_issue(user=world.acme.staff1, credential=Credential(token_id=token.pk))
            api_token_revoke(user=world.acme.staff1, token_id=token.pk)
            return ticket

    socket = await open_socket(f"{STORE}?ticket={await revoked_ticket()}", origin=None)
    assert await socket.closed_with() == close_codes.NOT_SIGNED_IN


# --- when the message never comes: resume and the heartbeat check again ---------------
@sync_to_async
def remove_membership_silently(world):
    """As if the change's message were lost: no signal, no message."""
    with tenant_context(world.acme.tenant), connection.cursor() as cursor:
        cursor.execute("DELETE FROM stores_staffmembership WHERE user_id = %s", [world.acme.staff1.pk])


async def test_resume_checks_access_before_replaying_the_history(world, open_socket):
    await sync_to_async(create_order)(world.acme.tenant, store_id=1)
    board = await open_socket(STORE, cookie=await login_cookie(world.acme.tenant, world.acme.staff1))
    await first_frames(board, "stream.live")
    await remove_membership_silently(world)

    await board.send({"type": "resume", "after": 0})
    assert await closed(board) == close_codes.FORBIDDEN  # and not order.created seq 1


async def test_the_heartbeat_checks_access_and_does_not_bring_presence_back(world, open_socket, settings):
    settings.STREAM_HEARTBEAT_SECONDS = 0.3
    board = await open_socket(STORE, cookie=await login_cookie(world.acme.tenant, world.acme.staff1))
    await first_frames(board, "stream.live")
    await remove_membership_silently(world)

    assert await closed(board) == close_codes.FORBIDDEN
    assert await in_acme(world, lambda: PresenceSession.objects.filter(user=world.acme.staff1).count()) == 0


def test_a_session_cookie_sent_after_sign_out_means_nothing(world):
    """The HTTP side of the same rule, for completeness."""
    cookie = session_cookie(world.acme.tenant, world.acme.customer)
    client = Client(HTTP_HOST="acme.localhost", HTTP_COOKIE=cookie)
    assert client.get("/api/notifications").status_code == 200
    client.post("/accounts/logout/")
    assert Client(HTTP_HOST="acme.localhost", HTTP_COOKIE=cookie).get("/api/notifications").status_code == 401


# --- what no signal announces: the worker's sweep ---------------------------------------
@pytest.fixture
def fast_sweep(settings):
    settings.ACCESS_SWEEP_SECONDS = 0.3


async def test_a_token_that_expires_closes_the_sockets_of_its_tickets(world, open_socket, fast_sweep):
    from datetime import timedelta

    from django.utils import timezone

    from platform_core.models import ApiToken

    @sync_to_async
    def ticket():
        with tenant_context(world.acme.tenant):
            token, _ = api_token_create(user=world.acme.customer, name="app", expires_in_days=1)
            return token.pk, ws_ticket_issue(user=world.acme.customer, credential=Credential(token_id=token.pk))

    token_id, plaintext = await ticket()
    bell = await open_socket(f"{BELL}?ticket={plaintext}", origin=None)
    await first_frames(bell, "notifications.unread")
    assert await still_open(bell)
    # Time passes: the token's expiry is now behind us (no signal is sent for that).
    await in_acme(
        world, lambda: ApiToken.objects.filter(pk=token_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    )
    assert await closed(bell) == close_codes.NOT_SIGNED_IN


async def test_an_expired_session_and_a_bulk_deactivation_are_swept_too(world, open_socket, fast_sweep):
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    customer_bell = await open_socket(BELL, cookie=await login_cookie(world.acme.tenant, world.acme.customer))
    staff_bell = await open_socket(BELL, cookie=await login_cookie(world.acme.tenant, world.acme.staff2))
    globex_bell = await open_socket(
        BELL, host="globex.localhost", cookie=await login_cookie(world.globex.tenant, world.globex.customer)
    )
    for bell in (customer_bell, staff_bell, globex_bell):
        await first_frames(bell, "notifications.unread")

    def end_things():
        Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))  # acme's sessions only
        get_user_model().objects.filter(pk=world.acme.staff2.pk).update(is_active=False)  # no signal

    await in_acme(world, end_things)
    assert await closed(customer_bell) == close_codes.NOT_SIGNED_IN
    assert await closed(staff_bell) == close_codes.NOT_SIGNED_IN
    assert await still_open(globex_bell)  # the same ids in another tenant: untouched


async def test_a_membership_given_to_someone_else_closes_the_old_holder_s_board(world, open_socket):
    board = await open_socket(STORE, cookie=await login_cookie(world.acme.tenant, world.acme.staff1))
    await first_frames(board, "stream.live")

    def reassign():
        membership = StaffMembership.objects.get(user=world.acme.staff1, store_id=1)
        membership.user = world.acme.customer  # as the admin's inline form does
        membership.save()

    await in_acme(world, reassign)
    assert await closed(board) == close_codes.FORBIDDEN
