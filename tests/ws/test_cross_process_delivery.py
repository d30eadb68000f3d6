"""A notification saved in one OS process reaches a socket served by another,
through real Redis. Runs whenever REDIS_URL is set (`.ci/run` sets it)."""

import asyncio
import json
import os

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django_tenants.utils import tenant_context

from alerts.models import Notification
from alerts.services import notification_create
from tests.factories import session_cookie
from tests.servers import uvicorn_server, websocket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL"),
]


@pytest.fixture
def server(acme, customer):
    with uvicorn_server() as server:
        yield server
    connections.close_all()


def notify(tenant, user, title):
    with tenant_context(tenant):
        return notification_create(recipient=user, kind=Notification.Kind.SYSTEM, title=title)


async def test_notification_saved_here_reaches_a_socket_in_another_process(server, acme, customer):
    cookie = await sync_to_async(session_cookie)(acme, customer)
    async with websocket(server, "/ws/notifications/", host="acme.localhost", cookie=cookie) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first["type"] == "notifications.unread"

        notification = await sync_to_async(notify)(acme, customer, "from another process")

        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert frame["type"] == "notification.created"
        assert frame["notification"]["id"] == notification.pk
