"""Waiting on the wall clock, for tests of fixed time windows."""

import time


def clear_of_window_edge(window: int, *, margin: float = 5) -> None:
    """Fixed windows reset on their edge: start with at least `margin`
    seconds of this one left (a test that takes longer asks for more)."""
    left = window - time.time() % window
    if left < margin:
        time.sleep(left + 0.1)
