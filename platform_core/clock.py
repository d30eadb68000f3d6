"""The time deferred work reads: `now()`, which tests can move forward.

Jobs, push delays and e-mail digests are due minutes after the change that
made them. Tests (and the off-site delivery tests' worker processes) move
this clock instead of sleeping: `travel(seconds)` in the process, or
CLOCK_OFFSET_SECONDS in a child process's environment. It is never set in
production; requests, sockets and stored timestamps use Django's
`timezone.now()` directly.
"""

import contextlib
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

_offset = timedelta(0)


def now() -> datetime:
    return timezone.now() + _offset + timedelta(seconds=settings.CLOCK_OFFSET_SECONDS)


@contextlib.contextmanager
def travel(seconds: float):
    """Within this, now() is `seconds` later (tests)."""
    global _offset
    before = _offset
    _offset = before + timedelta(seconds=seconds)
    try:
        yield
    finally:
        _offset = before
