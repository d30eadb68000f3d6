"""A password hasher that tells tests what happened while it hashed.

`RecordingHasher` is MD5 (the suite's cheap hasher, same algorithm name, so
the cast's passwords still verify) made slow on purpose, which widens every
race a sign-in could have, and it records each hash: how many ran at once,
and whether the hashing thread held a database connection. Tests put it in
PASSWORD_HASHERS and read `recorder`.
"""

import dataclasses
import threading
import time

from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connections


@dataclasses.dataclass
class Recorder:
    delay: float = 0.05  # seconds each hash takes on top of MD5's
    hashes: int = 0
    running: int = 0
    most_running: int = 0
    with_connection: int = 0  # hashes whose thread held a database connection meanwhile
    # A hash of `pause_password` waits for `resume` (set by the test) before finishing.
    pause_password: str | None = None
    paused: threading.Event = dataclasses.field(default_factory=threading.Event)
    resume: threading.Event = dataclasses.field(default_factory=threading.Event)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def reset(self, **fields) -> None:
        self.__init__(**fields)

    def hashing(self, password: str):
        recorder = self

        class Hashing:
            def __enter__(self):
                with recorder.lock:
                    recorder.hashes += 1
                    recorder.running += 1
                    recorder.most_running = max(recorder.most_running, recorder.running)
                    recorder.with_connection += connections["default"].connection is not None
                time.sleep(recorder.delay)
                if password == recorder.pause_password:
                    recorder.paused.set()
                    if not recorder.resume.wait(timeout=30):
                        raise AssertionError("the test never resumed the paused hash")

            def __exit__(self, *exc):
                with recorder.lock:
                    recorder.running -= 1

        return Hashing()


recorder = Recorder()
_inside = threading.local()


class RecordingHasher(MD5PasswordHasher):
    def verify(self, password, encoded):
        with recorder.hashing(password):
            _inside.verifying = True
            try:
                return super().verify(password, encoded)
            finally:
                _inside.verifying = False

    def encode(self, password, salt):
        if getattr(_inside, "verifying", False):  # MD5's verify encodes: one hash, counted once
            return super().encode(password, salt)
        with recorder.hashing(password):
            return super().encode(password, salt)
