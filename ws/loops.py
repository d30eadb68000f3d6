"""One instance per event loop, for the worker-wide helpers (the hub, the
layer watch, the bells' watch): a uvicorn worker has one loop, a test run
has many. Held by weak reference to the loop, so a closed loop's helper
(and everything it refers to) goes away with it."""

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def per_event_loop(factory: Callable[[], T]) -> Callable[[], T]:
    """`factory`'s instance for the running loop, made on first use.

    Looked up by the loop's id, which is reused only after the loop is
    gone: its entry is removed as it goes (a weak reference's callback).
    A socket's connect asks for a dozen of these; a WeakKeyDictionary made
    two weak references per lookup (3% of a connect storm's event loop)."""
    instances: dict[int, T] = {}

    def get() -> T:
        loop = asyncio.get_running_loop()
        try:
            return instances[id(loop)]
        except KeyError:
            instance = instances[id(loop)] = factory()
            weakref.finalize(loop, instances.pop, id(loop), None)
            return instance

    return get


async def cancel_and_wait(task: asyncio.Task) -> None:
    """Cancel `task` and wait for it to end, whatever it raises, without
    swallowing a cancellation of the caller itself: a socket closing while
    its event loop shuts down must stop too (a swallowed one left
    `asyncio.run` waiting for ever on a task that went on awaiting)."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    except Exception:
        pass
