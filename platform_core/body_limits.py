"""Request bodies are limited at the ASGI edge, before Django reads them.

Django's ASGI handler reads the whole body before any view runs, spooling
it to a temporary file past FILE_UPLOAD_MAX_MEMORY_SIZE: a view's own size
check came after a 300 MiB upload had been written to disk, and an
anonymous 100 MiB post to /api/tokens was read in full to be answered 401.

`BodyLimits` picks a limit by path (a settings name per route, read per
request) and:

- refuses a declared Content-Length over it with 413 at once, reading
  nothing (nor sending `100 Continue`);
- otherwise reads the body itself, counting bytes as they arrive; the
  moment the count passes the limit it stops reading and answers 413;
- hands Django a body within its limit, whole, as one message; later
  `receive()` calls (Django listens for the client going away) go to the
  server as before.

A 413 is always sent before the app is called, so it can never follow a
response the app started. It asks the server to close the connection
(`Connection: close`), since the client may still be sending the rest.
"""

import logging
import re
from collections.abc import Iterable

from django.conf import settings

from platform_core.refusals import refuse

logger = logging.getLogger(__name__)

_MALFORMED = 2**63  # larger than any limit


class BodyLimits:
    """ASGI middleware for HTTP. `routes`: (path regex, settings name) pairs,
    the first match wins; `default`: the settings name for every other path."""

    def __init__(self, app, *, routes: Iterable[tuple[str, str]], default: str):
        self.app = app
        self.routes = [(re.compile(pattern), setting) for pattern, setting in routes]
        self.default = default

    def limit_for(self, path: str) -> int:
        setting = next((setting for pattern, setting in self.routes if pattern.match(path)), self.default)
        return getattr(settings, setting)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        limit = self.limit_for(path)
        declared = _declared_length(scope["headers"])
        if declared is not None and declared > limit:
            return await _too_large(send, path, limit, read=0)

        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before the body was whole: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                # Stop here: the rest stays unread in the socket, which closes.
                return await _too_large(send, path, limit, read=size)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break

        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return body

        return await self.app(scope, replay, send)


def _declared_length(headers) -> int | None:
    """The Content-Length, if any; a malformed one counts as too large
    (servers refuse those first; this does not depend on it)."""
    values = [value for name, value in headers if name.lower() == b"content-length"]
    if not values:
        return None
    if len(set(values)) != 1 or not values[0].isdigit():
        return _MALFORMED
    return int(values[0])


async def _too_large(send, path: str, limit: int, *, read: int) -> None:
    logger.info("request body over %s bytes refused for %s after reading %s bytes", limit, path, read)
    await refuse(
        send, path=path, status=413, code="too_large", message=f"bodies are limited to {limit} bytes", close=True
    )
