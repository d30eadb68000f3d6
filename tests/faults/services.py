"""Services a fault test owns, so it can stop and start them.

The suite's own PostgreSQL and Redis are never touched: each fault test
starts a private `redis-server` (Debian's package) or PostgreSQL (the
`pgserver` wheel's binaries) on a free port, breaks it, and brings it back.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
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

    def __init__(self, *extra_args: str):
        require(REDIS_SERVER)
        self.extra_args = extra_args  # e.g. --replicaof host port
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *self.extra_args,
            ],
            cwd=tempfile.gettempdir(),  # a replica's sync writes dump.rdb there
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, up=True)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, nothing answers."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

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


class PrivateSentinel:
    """A Redis Sentinel (redis-server --sentinel) watching `master` alone:
    quorum 1, the master counts as down after 1 s without an answer."""

    NAME = "pregon"

    def __init__(self, master: PrivateRedis):
        require(REDIS_SERVER)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pregon-sentinel-"))
        (self.dir / "sentinel.conf").write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor {self.NAME} 127.0.0.1 {master.port} 1\n"
            f"sentinel down-after-milliseconds {self.NAME} 1000\n"
            f"sentinel failover-timeout {self.NAME} 5000\n"
        )
        self.process = subprocess.Popen(
            [REDIS_SERVER, str(self.dir / "sentinel.conf"), "--sentinel"], stdout=subprocess.DEVNULL
        )
        wait_for_port(self.port, up=True)

    def master_port(self) -> int | None:
        import redis

        client = redis.Redis(port=self.port)
        try:
            address = client.sentinel_get_master_addr_by_name(self.NAME)
        finally:
            client.close()
        return int(address[1]) if address else None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivatePostgres:
    """A PostgreSQL (pgserver's binaries) holding a copy of the test database.

    `stop()` is a fast shutdown, as in a restart: every connection is cut.
    `start()` starts the same data directory on the same socket.
    """

    def __init__(self, data_dir: Path, database: str):
        import pgserver
        from pgserver._commands import POSTGRES_BIN_PATH, pg_ctl

        self._pgserver, self._pg_ctl, self.bin = pgserver, pg_ctl, POSTGRES_BIN_PATH
        self.data_dir = data_dir
        self.database = database
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
            self.server = pgserver.get_server(data_dir, cleanup_mode="stop")
        self.socket_dir = str(self.server.get_postmaster_info().socket_dir)

    @property
    def url(self) -> str:
        return f"postgres://postgres@/{self.database}?host={self.socket_dir}"  # a Unix socket

    def copy_from(self, settings_dict: dict) -> None:
        """Copy the suite's test database (schemas and rows) into this server."""
        self.server.psql(f'CREATE DATABASE "{self.database}";')
        source = [
            str(self.bin / "pg_dump"),
            "--no-owner",
            "--no-privileges",
            "-h",
            settings_dict["HOST"] or "/tmp",
            "-U",
            settings_dict["USER"] or "postgres",
            settings_dict["NAME"],
        ]
        if settings_dict.get("PORT"):
            source += ["-p", str(settings_dict["PORT"])]
        dump = subprocess.run(source, check=True, capture_output=True).stdout
        # This machine's PostgreSQL keeps a private column option that a
        # stock server rejects; it carries no data.
        dump = b"\n".join(line for line in dump.split(b"\n") if b"SET (pg_attver=" not in line)
        restored = subprocess.run(
            [
                str(self.bin / "psql"),
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.socket_dir,
                "-U",
                "postgres",
                self.database,
            ],
            input=dump,
            capture_output=True,
        )
        if restored.returncode:
            raise RuntimeError(f"restoring the copy failed: {restored.stderr.decode()[-2000:]}")

    def stop(self) -> None:
        self._pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self.server.system_user)

    def start(self) -> None:
        # As pgserver starts it: on the same Unix socket, no TCP.
        args = ["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.server.log), "start"]
        self._pg_ctl(args, pgdata=self.data_dir, user=self.server.system_user)

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.server.cleanup()


@contextlib.contextmanager
def private_postgres(settings_dict: dict):
    data_dir = Path(tempfile.mkdtemp(prefix="pregon-faults-pg-"))
    os.chmod(data_dir, 0o755)  # pgserver runs postgres as another user when we are root
    postgres = PrivatePostgres(data_dir / "data", settings_dict["NAME"])
    try:
        postgres.copy_from(settings_dict)
        yield postgres
    finally:
        postgres.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)
