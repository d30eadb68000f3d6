"""Signed order webhooks as fast as possible, or at a fixed rate (open loop).

Plain asyncio HTTP/1.1 with keep-alive connections; every request is
signed (Standard Webhooks) before the run starts, and each creates a new
order, spread over the tenant's ten stores (a store's writes are
serialized by its gap-free `seq`).
Requests say they came through the TLS proxy (`X-Forwarded-Proto: https`),
as in production: with DEBUG off, plain HTTP is redirected (301).
"""

import asyncio
import base64
import collections
import hashlib
import hmac
import json
import time
import uuid


def _request(host: str, port: int, integration_id: int, key: bytes, n: int) -> bytes:
    body = json.dumps(
        {
            "type": "order.created",
            "timestamp": "2026-11-21T12:00:00Z",
            "data": {"store_id": 1 + n % 10, "external_id": f"WH-{n}-{uuid.uuid4().hex[:8]}", "total": "9.90"},
        }
    ).encode()
    webhook_id, stamp = f"msg_{uuid.uuid4().hex}", str(int(time.time()))
    signature = base64.b64encode(
        hmac.new(key, f"{webhook_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    head = (
        f"POST /api/integrations/{integration_id}/webhook HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"X-Forwarded-Proto: https\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"webhook-id: {webhook_id}\r\n"
        f"webhook-timestamp: {stamp}\r\nwebhook-signature: v1,{signature}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(reader, writer, request: bytes) -> int:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def _run(port, host, integration_id, secret, total, rate, concurrency):
    key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    queue: asyncio.Queue = asyncio.Queue()
    latencies, errors, statuses = [], 0, collections.Counter()

    async def worker():
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while True:
            item = await queue.get()
            if item is None:
                writer.close()
                return
            n, due = item
            request = requests[n]
            started = time.perf_counter()
            try:
                status = await _exchange(reader, writer, request)
            except Exception:
                status = 0
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            # open loop: latency counts from when the request was due
            latencies.append((time.perf_counter() - (due or started)) * 1000)
            statuses[status] += 1
            if status != 200:
                errors += 1

    # Signed before the clock starts (a few seconds before they are sent,
    # well inside the signature's tolerance): the load generator shares
    # the server's two cores, and what it spends is theirs to lose.
    requests = [_request(host, port, integration_id, key, n) for n in range(total)]
    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    began = time.perf_counter()
    for n in range(total):
        due = None
        if rate:
            due = began + n / rate
            await asyncio.sleep(max(0, due - time.perf_counter()))
        await queue.put((n, due))
    for _ in workers:
        await queue.put(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "rate": total / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": errors,
        "statuses": dict(statuses),
    }


def run(*, port, host, integration_id, secret, total, rate=None, concurrency=16):
    return asyncio.run(_run(port, host, integration_id, secret, total, rate, concurrency))
