"""The examples in docs/integrations.md run, against a real server."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections
from django_tenants.utils import tenant_context

from orders.integrations.services import integration_create
from orders.models import Order
from tests.servers import uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def served(world):
    with tenant_context(world.acme.tenant):
        integration, secret = integration_create(name="docs")
    with uvicorn_server() as server:
        yield server.port, integration.pk, secret
    connections.close_all()


def orders(world):
    with tenant_context(world.acme.tenant):
        return sorted(Order.objects.values_list("external_id", flat=True))


def test_the_python_example_creates_an_order_and_a_retry_is_a_duplicate(served, world):
    port, integration_id, secret = served
    command = [
        sys.executable,
        str(EXAMPLES / "send_order_webhook.py"),
        "--url",
        f"http://acme.localhost:{port}/api/integrations/{integration_id}/webhook",
        "--secret",
        secret,
        "--connect",
        f"127.0.0.1:{port}",
        "--external-id",
        "DOC-1",
        "--webhook-id",
        "msg_doc",
        # A retry resends the same body: the same event time, whatever the clock says by then.
        "--occurred-at",
        "2026-11-22T07:00:00Z",
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert first.returncode == 0, first.stdout + first.stderr
    assert json.loads(first.stdout.split(" ", 1)[1])["status"] == "processed"
    again = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert json.loads(again.stdout.split(" ", 1)[1])["status"] == "duplicate"
    assert orders(world) == ["DOC-1"]


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl")
def test_the_curl_example_creates_an_order(served, world):
    port, integration_id, secret = served
    result = subprocess.run(
        ["bash", str(EXAMPLES / "send_order_webhook.sh")],
        capture_output=True,
        text=True,
        timeout=30,
        env={
            **os.environ,
            "URL": f"http://acme.localhost:{port}/api/integrations/{integration_id}/webhook",
            "SECRET": secret,
            "RESOLVE": f"acme.localhost:{port}:127.0.0.1",
        },
    )
    assert result.stdout.strip().endswith("200"), result.stdout + result.stderr
    assert [e for e in orders(world) if e.startswith("CURL-")]
