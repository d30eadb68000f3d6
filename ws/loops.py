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
    """`factory`'s instance for the running loop, made on first use."""
    instances: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get() -> T:
        loop = asyncio.get_running_loop()
        if loop not in instances:
            instances[loop] = factory()
        return instances[loop]

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
