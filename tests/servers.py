"""Real server processes for tests about what crosses a process boundary.

`uvicorn_server()` starts `config.asgi` under uvicorn (as the Procfile
does) on a free port, against the test database and the same channel
layer settings as the test process, and stops it afterwards.
"""

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class Server:
    port: int
    process: subprocess.Popen


@contextlib.contextmanager
def uvicorn_server(
    *,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
    startup_timeout: float = 20,
    app: str = "config.asgi:application",
    output=None,
    log_level: str = "warning",
    extra_args: tuple[str, ...] = (),
):
    """Yield a running Server; terminate it on exit (if a test has not killed it).
    `output`: an open file that receives the server's log. `log_level`:
    uvicorn's; at "info" its access log and socket handshake lines appear.
    `extra_args`: more uvicorn options."""
    port = port or free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PREGON_TEST_DATABASE_NAME": connection.settings_dict["NAME"],
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ws",
            "config.websocket_protocol:WebSocketProtocol",
            "--log-level",
            log_level,
            *extra_args,
        ],
        cwd=ROOT,
        env=env,
        stdout=output,  # a file to read the server's log from; inherited if None
        stderr=subprocess.STDOUT if output is not None else None,
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode} during startup")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in time")
            time.sleep(0.1)
        yield Server(port, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def websocket(server: Server, path: str, *, host: str, cookie: str | None = None):
    """A `websockets` client for `path` on `host` (a tenant), served by `server`."""
    import websockets

    authority = f"{host}:{server.port}"
    return websockets.connect(
        f"ws://{authority}{path}",
        host="127.0.0.1",
        port=server.port,
        origin=f"http://{authority}",
        additional_headers={"Cookie": cookie} if cookie else {},
    )
