"""Signing in without letting a burst of sign-ins take the database down.

Checking a password costs hundreds of milliseconds of CPU (PBKDF2, on
purpose). Django's ModelBackend does it right after loading the user, so the
request's pooled connection stays checked out the whole time: 100 concurrent
sign-ins held every connection of the pool, and every tenant's requests (and
the job loop) waited for one, then got 503s. And the limit on failures was
counted after the hash, so concurrent guesses all saw room for one more.

So a sign-in here, in this order:

0. `SignInGate` (ASGI, config/asgi.py) lets at most twice
   SIGN_IN_CONCURRENCY sign-in posts into Django at once per process; the
   others wait in the event loop, holding no thread, no connection and no
   share of the GIL (100 sign-ins as 100 threads at once slowed every other
   request of the process by seconds, with nothing hashed yet).
1. `SignInAttempt.begin` counts the attempt against its username and its
   client address, one atomic upsert each (platform_core/limits.py), before
   anything is hashed. Over either limit it is refused at once (429).
2. `SignInBackend` loads the user's password hash, then gives the pooled
   connection back (`release_connection`) before waiting for a hashing slot.
3. At most SIGN_IN_CONCURRENCY hashes run at once per process (well below
   the pool's size, and the CPU's share the other requests need). A sign-in
   that waits longer than SIGN_IN_QUEUE_SECONDS, at the gate or for a
   hashing slot (`SignInBusy`), gets a 503 with Retry-After, and its
   attempt is not held against it.
4. A success takes back its own attempt, and nothing else: failures counted
   meanwhile by other requests stay counted. There is no reset on success.
"""

import asyncio
import contextlib
import hashlib
import threading
import weakref
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import make_password, verify_password
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils.translation import gettext_lazy as _

from platform_core import limits
from platform_core.middleware import RETRY_AFTER_SECONDS
from platform_core.refusals import refuse

BUSY_MESSAGE = _("Too many sign-ins at once right now. Try again in a few seconds.")


class SignInBusy(Exception):
    """Every hashing slot stayed taken for SIGN_IN_QUEUE_SECONDS."""


class SignInAttempt:
    """One sign-in, counted against its username and its client address
    before any password is hashed. A refused attempt (over a limit) is taken
    back at once, so a locked username does not use up its address's budget."""

    def __init__(self, counted: list[limits.Counted]):
        self.counted = counted
        waits = [c.wait for c in counted if c.wait is not None]
        self.refused_for: int | None = max(waits) if waits else None

    @classmethod
    def begin(cls, request) -> "SignInAttempt":
        window = settings.LOGIN_WINDOW_SECONDS
        attempt = cls([limits.count(key, limit=limit, window=window) for key, limit in _keys(request)])
        if attempt.refused_for is not None:
            attempt.give_back()
        return attempt

    def give_back(self) -> None:
        """Not a failure after all (it succeeded, or was never checked)."""
        for counted in self.counted:
            limits.uncount(counted)
        self.counted = []


def _keys(request) -> list[tuple[str, int]]:
    # The username is whatever the client typed: a digest keeps the key short
    # and free of characters PostgreSQL will not store (NUL).
    username = (request.POST.get("username") or "").strip().lower()
    digest = hashlib.sha256(username.encode("utf-8", "replace")).hexdigest()
    address = request.META.get("REMOTE_ADDR") or "unknown"
    return [
        (f"login:username:{digest}", settings.LOGIN_FAILURES_PER_USERNAME),
        (f"login:address:{address}", settings.LOGIN_FAILURES_PER_ADDRESS),
    ]


def release_connection() -> None:
    """Give this thread's pooled connection back to the pool now; the next
    query takes one again. Inside a transaction there is nothing to give
    back without ending it, so it is kept (only tests sign in inside one)."""
    if not connection.in_atomic_block:
        connection.close()


_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _hashing_slots() -> threading.BoundedSemaphore:
    # One semaphore per process (per size, so a test may change the setting).
    size = settings.SIGN_IN_CONCURRENCY
    with _slots_lock:
        if size not in _slots:
            _slots[size] = threading.BoundedSemaphore(size)
        return _slots[size]


@contextlib.contextmanager
def hashing_slot():
    """Hash inside this: no database connection held, at most
    SIGN_IN_CONCURRENCY at once in this process. Raises SignInBusy."""
    release_connection()  # before waiting too: a waiting sign-in holds nothing
    slots = _hashing_slots()
    if not slots.acquire(timeout=settings.SIGN_IN_QUEUE_SECONDS):
        raise SignInBusy
    try:
        yield
    finally:
        slots.release()


class SignInBackend(ModelBackend):
    """Django's ModelBackend, with the password checked in a hashing slot
    (no pooled connection held, a bounded number at once). The rest is
    Django's: an unknown username costs one hash too (so the timing does not
    tell who exists), an inactive user is refused, and a hash made with
    older parameters is upgraded on success.

    Credentials it checked and refused raise PermissionDenied, which ends
    Django's `authenticate()` (a failed sign-in, `user_login_failed` sent)
    rather than letting the next backend in AUTHENTICATION_BACKENDS hash
    the same password again.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            user = None
        with hashing_slot():
            if user is None:
                user_model().set_password(password)
                raise PermissionDenied
            valid, must_update = verify_password(password, user.password)
            upgraded = make_password(password) if valid and must_update else None
        if upgraded is not None:
            # What AbstractBaseUser.check_password's setter does, after the slot.
            user.password = upgraded
            user.save(update_fields=["password"])
        if not (valid and self.user_can_authenticate(user)):
            raise PermissionDenied
        return user


class SignInGate:
    """ASGI middleware: at most 2 × SIGN_IN_CONCURRENCY sign-in posts (to
    `paths`) are inside Django at once in this process, so that as many are
    counted and answered while SIGN_IN_CONCURRENCY hash. The others wait
    here, as coroutines: no thread, no connection, no share of the GIL for
    other requests to queue behind. One that waits SIGN_IN_QUEUE_SECONDS is
    answered 503 with Retry-After, uncounted (Django never saw it)."""

    def __init__(self, app, *, paths: Iterable[str]):
        self.app = app
        self.paths = frozenset(paths)
        # asyncio primitives belong to one event loop: uvicorn runs one per
        # process, tests may run several.
        self._turns: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = asyncio.Semaphore(2 * settings.SIGN_IN_CONCURRENCY)
        try:
            async with asyncio.timeout(settings.SIGN_IN_QUEUE_SECONDS):
                await turns.acquire()
        except TimeoutError:
            return await refuse(
                send,
                path=scope["path"],
                status=503,
                code="busy",
                message=str(BUSY_MESSAGE),
                retry_after=RETRY_AFTER_SECONDS,
            )
        try:
            return await self.app(scope, receive, send)
        finally:
            turns.release()
