"""A bare ASGI app served by the Procfile's WebSocket protocol, for tests
of its writes (config/websocket_protocol.py): it accepts, tries the frames
named by the path through `send_many`, and, when that write fails, tries
it once more (as a socket's writer does) and closes with 1011.

    /ok-then-bad: "ok" and a text with a lone surrogate, in one write.
"""

from ws.outbox import SEND_MANY

BATCHES = {"/ok-then-bad": ["ok", "\ud800"]}


async def application(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    texts = BATCHES[scope["path"]]
    for _attempt in range(2):
        try:
            await send({"type": SEND_MANY, "texts": texts})
            return
        except UnicodeEncodeError:
            pass
    await send({"type": "websocket.send", "text": "after"})
    await send({"type": "websocket.close", "code": 1011})
