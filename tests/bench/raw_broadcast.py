"""The baseline: a bare `websockets` server that broadcasts to every client.

    python -m tests.bench.raw_broadcast <port>

A client that sends "go <count>" makes the server broadcast `count` frames
{"seq": n, "sent": unix time} to every other client, as fast as it can:
the same frames our clients count, with nothing of ours in between.

It is also the connect baseline: it accepts every socket and sends one
frame (`hello`), which the clients wait for, as they wait for our
`stream.live`.
"""

import asyncio
import json
import sys
import time

import websockets

clients: set = set()


async def handler(ws):
    clients.add(ws)
    try:
        await ws.send('{"type":"hello"}')
        async for message in ws:
            if message.startswith("go "):
                count = int(message.split()[1])
                others = [c for c in clients if c is not ws]
                for seq in range(1, count + 1):
                    websockets.broadcast(others, json.dumps({"seq": seq, "sent": time.time()}))
                    await asyncio.sleep(0)  # let the transports drain, as a real server would
                await ws.send("done")
    finally:
        clients.discard(ws)


async def main(port):
    async with websockets.serve(handler, "127.0.0.1", port, compression=None, max_size=2**20, ping_interval=None):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
