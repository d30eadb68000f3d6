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
