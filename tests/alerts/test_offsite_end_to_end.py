"""Issue 18's promise, end to end, on two real worker processes behind one
Redis (uvicorn --workers 2, each running the job loop), a local push
service that decrypts what it gets (tests/push_service.py) and a real SMTP
server (tests/smtp.py):

- with the customer's socket closed, a status change is pushed exactly
  once, and the digest mail listing it goes out exactly once, the tenant's
  minutes later;
- with the socket open and the notification read within the tenant's push
  delay, neither is sent.

Later is a clock moved forward: `manage.py run_jobs --once` processes (two
at a time, racing) started with CLOCK_OFFSET_SECONDS, while the web
workers' own loops keep running at the real time.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import tenant_context

from alerts.models import Delivery, Notification
from alerts.services import push_device_register
from platform_core import vapid
from platform_core.tokens import api_token_create
from tests.factories import create_order, session_cookie
from tests.servers import ROOT, uvicorn_server, websocket
from tests.smtp import smtp_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

PUSH_AFTER = 30  # Tenant.push_after_seconds' default
DIGEST = 10 * 60  # Tenant.email_digest_minutes' default, in seconds


@pytest.fixture
def offsite_env(push_stand_in, settings):
    private, public = vapid.generate()
    # This process registers the device as the API would: the same keys here.
    settings.VAPID_PRIVATE_KEY, settings.VAPID_PUBLIC_KEY = private, public
    settings.VAPID_SUBJECT = "mailto:ops@pregon.test"
    settings.WEB_PUSH_HOSTS = [push_stand_in.allowed_host]
    with smtp_server() as inbox:
        yield (
            inbox,
            public,
            {
                "VAPID_PRIVATE_KEY": private,
                "VAPID_PUBLIC_KEY": public,
                "VAPID_SUBJECT": "mailto:ops@pregon.test",
                "WEB_PUSH_HOSTS": push_stand_in.allowed_host,
                "EMAIL_URL": inbox.email_url,
                "JOBS_IN_WEB": "true",
                "JOBS_POLL_SECONDS": "0.2",
                "EMAIL_DIGEST_POLL_SECONDS": "0.5",
            },
        )


def later_workers(env: dict, seconds: float) -> None:
    """Two job runners, racing, each running what is due `seconds` from now."""
    child_env = {
        **os.environ,
        **env,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PREGON_TEST_DATABASE_NAME": connection.settings_dict["NAME"],
        "CLOCK_OFFSET_SECONDS": str(seconds),
    }
    runners = [
        subprocess.Popen([sys.executable, "manage.py", "run_jobs", "--once"], cwd=ROOT, env=child_env) for _ in range(2)
    ]
    for runner in runners:
        assert runner.wait(timeout=60) == 0


def wait_until(condition, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def change_status(server, token: str, order_id: int, status: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/orders/{order_id}/status",
        data=json.dumps({"status": status}).encode(),
        headers={"Host": "acme.localhost", "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def deliveries(cast, notification) -> dict[str, tuple[str, str]]:
    with tenant_context(cast.tenant):
        return {d.channel: (d.status, d.reason) for d in Delivery.objects.filter(notification=notification)}


def newest(cast) -> Notification:
    with tenant_context(cast.tenant):
        return Notification.objects.filter(recipient=cast.customer).latest("pk")


def test_closed_socket_one_push_then_one_digest_open_socket_read_in_time_neither(world, push_stand_in, offsite_env):
    inbox, public_key, env = offsite_env
    acme = world.acme
    with tenant_context(acme.tenant):
        get_user_model().objects.filter(pk=acme.customer.pk).update(email="ana@example.com")
        acme.customer.refresh_from_db()
        _, token = api_token_create(user=acme.staff1, name="e2e")
    browser = push_stand_in.subscribe(public_key)
    with tenant_context(acme.tenant):
        push_device_register(user=acme.customer, subscription=browser.json())
    order = create_order(acme.tenant, external_id="E2E-1", customer=acme.customer)

    with uvicorn_server(extra_env=env, extra_args=("--workers", "2", "--lifespan", "on")) as server:
        # 1. The customer has no socket open: pushed at once, exactly once.
        change_status(server, token, order.pk, "accepted")
        accepted = newest(acme)
        wait_until(lambda: len(push_stand_in.delivered(browser)) == 1)
        time.sleep(2)  # both workers' loops had time to send it again: they must not
        [pushed] = push_stand_in.delivered(browser)
        assert pushed["id"] == accepted.pk and pushed["url"].endswith(f"/orders/{order.pk}/")
        assert "E2E-1" in pushed["title"]
        assert inbox.received == []  # the digest waits for its minutes

        # 2. The tenant's minutes later, on two racing runners: one mail, listing it.
        later_workers(env, DIGEST + 1)
        later_workers(env, DIGEST + 2)
        [mail] = inbox.received
        assert mail.recipients == ["ana@example.com"]
        assert "E2E-1" in mail.body and f"/orders/{order.pk}/" in mail.body
        assert deliveries(acme, accepted) == {"push": ("sent", ""), "email": ("sent", "")}

        # 3. The customer's bell is open: the push waits PUSH_AFTER seconds;
        #    they read it in time, so neither push nor mail goes.
        cookie = session_cookie(acme.tenant, acme.customer)

        async def read_it_live():
            async with websocket(server, "/ws/notifications/", host="acme.localhost", cookie=cookie) as bell:
                assert json.loads(await bell.recv())["type"] == "notifications.unread"
                await asyncio.to_thread(change_status, server, token, order.pk, "preparing")
                while (frame := json.loads(await bell.recv()))["type"] != "notification.created":
                    pass
                await bell.send(json.dumps({"type": "notifications.mark_read", "ids": [frame["notification"]["id"]]}))
                while (answer := json.loads(await bell.recv()))["type"] != "notifications.read":
                    pass
                return frame["notification"]["id"], answer["ids"]

        notification_id, read_ids = asyncio.run(read_it_live())
        assert read_ids == [notification_id]
        later_workers(env, PUSH_AFTER + DIGEST + 5)
        later_workers(env, PUSH_AFTER + DIGEST + 6)
        preparing = newest(acme)
        assert preparing.pk == notification_id and preparing.read_at is not None
        assert deliveries(acme, preparing) == {"push": ("skipped", "read"), "email": ("skipped", "read")}
        assert len(push_stand_in.delivered(browser)) == 1 and len(inbox.received) == 1
