"""A load-generator process: many WebSocket clients, no Django.

    python -m tests.bench.clients '<json config>'

Talks to the orchestrator over stdin/stdout, one JSON line each way:
prints {"ready": …} once its sockets are open (and, in stream mode, have
seen their first `stream.live`), then waits for one line on stdin, a JSON
object {"commit": {seq: unix time}, "expect": [first, last]} (or {} for
idle mode), and prints the result: latencies from commit to receive, and
missing or duplicate `seq` per socket.
"""

import asyncio
import json
import resource
import sys
import time

import websockets


async def connect(config, index):
    url = config["url"]
    if config.get("after") is not None:
        url += f"?after={config['after']}"
    headers = {"Cookie": config["cookies"][index % len(config["cookies"])]} if config.get("cookies") else {}
    return await websockets.connect(
        url,
        host=config["connect_host"],
        port=config["connect_port"],
        origin=config.get("origin"),
        additional_headers=headers,
        max_size=2**20,
        open_timeout=60,
        ping_interval=None,
        # Browsers offer permessage-deflate; the bench does not unless told
        # to (tests/bench/notes.md has what it costs).
        compression=config.get("compression"),
    )


class Socket:
    def __init__(self, cookie=None):
        self.cookie = cookie  # whose socket it is (notifications are checked per recipient)
        self.seqs: list[tuple[int, float]] = []
        self.live = asyncio.Event()
        self.first = asyncio.Event()

    async def read(self, ws):
        try:
            async for text in ws:
                now = time.time()
                if text.startswith('{"type":"notification.created"'):
                    self.seqs.append((json.loads(text)["notification"]["id"], now))
                elif '"seq"' in text[:80] or text.startswith('{"seq"'):
                    frame = json.loads(text)
                    self.seqs.append((frame["seq"], now))
                elif text.startswith('{"type":"stream.live"'):
                    self.live.set()
                self.first.set()
        except websockets.ConnectionClosed:
            pass


async def main(config):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    count, mode = config["count"], config["mode"]
    sockets, clients, readers = [], [], []
    semaphore = asyncio.Semaphore(config.get("concurrency", 100))
    started = time.time()
    failed = 0

    async def open_one(i):
        nonlocal failed
        async with semaphore:
            try:
                ws = await connect(config, i)
            except Exception:
                failed += 1
                return
            socket = Socket(config["cookies"][i % len(config["cookies"])] if config.get("cookies") else None)
            sockets.append(ws)
            clients.append(socket)
            readers.append(asyncio.create_task(socket.read(ws)))
            wait_for = socket.live if mode == "stream" and not config.get("raw") else socket.first
            try:
                await asyncio.wait_for(wait_for.wait(), 60)
            except TimeoutError:
                failed += 1

    await asyncio.gather(*(open_one(i) for i in range(count)))
    print(json.dumps({"ready": len(clients), "failed": failed, "seconds": time.time() - started}), flush=True)

    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    order = json.loads(line or "{}")
    result = {"sockets": len(clients)}
    if order.get("expect_ids"):
        # Which notifications reach which process is not known in advance:
        # wait until nothing new has arrived for a second.
        commit = {int(k): v for k, v in order["commit"].items()}
        deadline, seen, quiet_since = time.time() + order.get("wait", 15), -1, time.time()
        while time.time() < deadline and time.time() - quiet_since < 1:
            count = sum(len(c.seqs) for c in clients)
            if count != seen:
                seen, quiet_since = count, time.time()
            await asyncio.sleep(0.05)
        latencies = [round((at - commit[key]) * 1000, 2) for c in clients for key, at in c.seqs if key in commit]
        # Which ids each user's socket got: the orchestrator checks that each
        # notification reached its recipient, once, and nobody else.
        by_cookie: dict[str, list[int]] = {}
        for c in clients:
            by_cookie.setdefault(c.cookie, []).extend(key for key, _ in c.seqs if key in commit)
        last_receive = max((at for c in clients for key, at in c.seqs if key in commit), default=0.0)
        result.update(latencies_ms=latencies, received=len(latencies), by_cookie=by_cookie, last_receive=last_receive)
    elif "expect" in order:
        first, last = order["expect"]
        deadline = time.time() + order.get("wait", 15)
        expected = last - first + 1
        while time.time() < deadline and any(
            len([s for s, _ in c.seqs if first <= s <= last]) < expected for c in clients
        ):
            await asyncio.sleep(0.05)
        commit = {int(k): v for k, v in order.get("commit", {}).items()}
        latencies, missing, duplicates, received, last_receive = [], 0, 0, 0, 0.0
        for client in clients:
            seen = {}
            for seq, at in client.seqs:
                if first <= seq <= last:
                    seen[seq] = seen.get(seq, 0) + 1
                    received += 1
                    last_receive = max(last_receive, at)
                    if seq in commit:
                        latencies.append(round((at - commit[seq]) * 1000, 2))
            missing += sum(1 for s in range(first, last + 1) if s not in seen)
            duplicates += sum(n - 1 for n in seen.values() if n > 1)
        result.update(
            latencies_ms=latencies, missing=missing, duplicates=duplicates, received=received, last_receive=last_receive
        )
    for ws in sockets:
        await ws.close()
    for reader in readers:
        reader.cancel()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
