"""Which failures mean "a service we depend on is down" rather than a bug.

They get a clear "try again later" (HTTP 503, WebSocket close 1013) instead
of a 500 or a crashed socket; clients retry, and nothing committed is lost.
"""

import asyncio

import redis.exceptions
from django.db import InterfaceError, OperationalError

OUTAGES = (
    OperationalError,  # PostgreSQL unreachable, restarting, or the pool timed out
    InterfaceError,  # a pooled connection the restart closed
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,  # refused / reset sockets below either client
    asyncio.TimeoutError,
)


def is_outage(error: BaseException) -> bool:
    return isinstance(error, OUTAGES)


def is_client_gone(error: BaseException) -> bool:
    """The ASGI server's way of saying the client left mid-send: a server
    specific OSError (uvicorn's ClientDisconnected). Normal, not a fault."""
    return isinstance(error, OSError) and not is_outage(error)
