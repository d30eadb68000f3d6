"""An embedded PostgreSQL for local runs and tests on a machine without one.

Used only when DATABASE_URL is unset and DEBUG is on. The server (the
`pgserver` wheel ships the binaries) lives in `var/pg` and keeps running
after the process that started it exits, so `manage.py`, uvicorn and pytest
share one server; pgserver's own file lock makes concurrent starts safe.
It listens on a Unix socket only, so it never collides with a system
PostgreSQL on port 5432.
"""

import warnings
from pathlib import Path

DATABASE_NAME = "pregon"


def embedded_database(data_dir: Path) -> dict:
    """Start (or reuse) the server in `data_dir`; return a DATABASES entry."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI).
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(data_dir, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return {
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        # A Unix socket directory (the data dir, or a short path under /tmp
        # when the data dir's path is too long for a socket name).
        "HOST": str(server.get_postmaster_info().socket_dir),
        "PORT": "",
    }
