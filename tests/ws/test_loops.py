"""The worker-wide helpers, one per event loop (ws/loops.py)."""

import asyncio
import gc
import weakref

from ws.loops import per_event_loop


class Helper:
    pass


def test_each_loop_has_its_own_helper_and_a_gone_loop_s_helper_goes_with_it():
    helper = per_event_loop(Helper)

    async def twice():
        return helper(), helper()

    first, again = asyncio.run(twice())  # a loop of its own, closed at the end
    assert first is again
    gone = weakref.ref(first)
    del first, again
    second, _ = asyncio.run(twice())
    gc.collect()
    assert gone() is None, "the closed loop's helper is still held"
    assert isinstance(second, Helper)

    async def in_another_loop_meanwhile():
        return helper()

    loop = asyncio.new_event_loop()
    try:
        mine = loop.run_until_complete(in_another_loop_meanwhile())
        assert loop.run_until_complete(in_another_loop_meanwhile()) is mine
        assert asyncio.run(twice())[0] is not mine
    finally:
        loop.close()
