"""Services a fault test owns, so it can stop and start them.

The suite's own PostgreSQL and Redis are never touched: each fault test
starts a private `redis-server` (Debian's package) or PostgreSQL (the
`pgserver` wheel's binaries) on a free port, breaks it, and brings it back.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.servers import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def require(binary: str) -> None:
    """Skip (fail in CI, where PREGON_REQUIRE_FAULTS is set) without `binary`."""
    if os.path.exists(binary):
        return
    message = f"fault tests need {binary}"
    if os.environ.get("PREGON_REQUIRE_FAULTS"):
        pytest.fail(message)
    pytest.skip(message)


def wait_for_port(port: int, *, up: bool, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                answered = True
        except OSError:
            answered = False
        if answered == up:
            return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} still {'closed' if up else 'open'} after {timeout}s")


class PrivateRedis:
    """A redis-server on its own port; `stop()` and `start()` keep the port."""

    def __init__(self):
        require(REDIS_SERVER)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, up=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # as a crash or an OOM kill would: no goodbye
            self.process.wait()
        wait_for_port(self.port, up=False)


@contextlib.contextmanager
def private_redis():
    redis = PrivateRedis()
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()
