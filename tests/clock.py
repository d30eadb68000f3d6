"""Waiting on the wall clock, for tests of fixed time windows."""

import time


def clear_of_window_edge(window: int) -> None:
    """Fixed windows reset on their edge: start well inside one."""
    left = window - time.time() % window
    if left < 5:
        time.sleep(left + 0.1)
