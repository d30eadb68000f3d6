"""The commands operators run to scale out: the Procfile's `web` with
WEB_CONCURRENCY workers, `make run WORKERS=n`, and the Redis settings."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import environ
import psutil
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from config.settings import redis_hosts
from tests.servers import ROOT, free_port


def procfile_web() -> str:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    return line.split(":", 1)[1].strip()


@pytest.mark.django_db(transaction=True)
def test_the_procfile_web_runs_web_concurrency_workers(world):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PREGON_TEST_DATABASE_NAME": connection.settings_dict["NAME"],
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
    }
    server = subprocess.Popen(["bash", "-c", f"exec {procfile_web()}"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        workers: list = []
        while len(workers) < 2:
            assert time.monotonic() < deadline and server.poll() is None, "two workers did not start"
            workers = [
                child
                for child in psutil.Process(server.pid).children()
                if "resource_tracker" not in " ".join(child.cmdline())  # multiprocessing's helper
            ]
            time.sleep(0.2)
        for _ in range(50):  # both must be serving, not just started
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": "acme.localhost"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        assert len(workers) == 2
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_make_run_with_several_workers_needs_redis():
    env = {key: value for key, value in os.environ.items() if not key.startswith("REDIS_")}
    result = subprocess.run(["make", "run", "WORKERS=2"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "WORKERS=2 needs REDIS_URL" in result.stderr
    assert "uvicorn" not in result.stdout  # refused before anything started


@pytest.fixture
def redis_env(monkeypatch):
    for name in ("REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_redis_url_may_list_shards(redis_env):
    redis_env.setenv("REDIS_URL", "redis://a:6379/0,redis://b:6380/0")
    assert redis_hosts(environ.Env()) == ["redis://a:6379/0", "redis://b:6380/0"]
    redis_env.delenv("REDIS_URL")
    assert redis_hosts(environ.Env()) == []


def test_sentinels_name_the_master_and_replace_redis_url(redis_env):
    redis_env.setenv("REDIS_URL", "redis://ignored:6379/0")
    redis_env.setenv("REDIS_SENTINELS", "s1:26379,10.0.0.2:26380")
    with pytest.raises(ImproperlyConfigured, match="REDIS_SENTINEL_MASTER"):
        redis_hosts(environ.Env())
    redis_env.setenv("REDIS_SENTINEL_MASTER", "pregon")
    redis_env.setenv("REDIS_SENTINEL_PASSWORD", "s3cret")
    assert redis_hosts(environ.Env()) == [
        {"sentinels": [("s1", 26379), ("10.0.0.2", 26380)], "master_name": "pregon", "password": "s3cret"}
    ]


def test_a_worker_freezes_the_app_and_collects_garbage_less_often():
    """What uvicorn's worker runs on import of `config.asgi`: the app's
    long-lived objects leave the collector's view, and the young generation
    waits for 50,000 allocations, not Python's 700 (a third of a connect
    storm's event loop was collections; docs/performance.md)."""
    probe = (
        "import gc; before = gc.get_freeze_count(); import config.asgi; "
        "print(before, gc.get_freeze_count(), *gc.get_threshold())"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    output = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
    assert output.returncode == 0, output.stderr
    before, frozen, young, middle, old = map(int, output.stdout.split())
    assert before == 0
    assert frozen > 50_000  # Django, the models, the URL conf, the consumers
    assert (young, middle, old) == (50_000, 20, 100)  # not (0, …): cycles are still collected


def settings_with(name: str, value: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.STREAM_REPLAY_BATCH)"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true", name: value},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("STREAM_REPLAY_BATCH", "0", "must be from 1 to 2147483647 (got 0)"),
        ("STREAM_REPLAY_PAGE_BYTES", "-1", "must be from 1 to 2147483647 (got -1)"),
        # A LIMIT beyond bigint failed every replay with 1011 (an outside test).
        (
            "STREAM_REPLAY_BATCH",
            "99999999999999999999999",
            "must be from 1 to 2147483647 (got 99999999999999999999999)",
        ),
        ("WEBHOOK_BATCH_SIZE", "", "must be a whole number (got '')"),
        ("WEBHOOK_BATCH_SIZE", "1e3", "must be a whole number (got '1e3')"),
        ("WS_DB_THREADS", "0x10", "must be a whole number (got '0x10')"),
    ],
)
def test_a_count_out_of_range_or_not_a_number_stops_the_process_at_startup_naming_it(name, value, said):
    """Before, STREAM_REPLAY_BATCH=0 started fine and every replay then read
    an empty page (or failed on a negative LIMIT) and closed with 1011."""
    done = settings_with(name, value)
    assert done.returncode != 0
    assert f"ImproperlyConfigured: {name} {said}" in done.stderr


@pytest.mark.parametrize("value", [" 5", "+5", "05", "٥"])
def test_a_count_written_another_way_is_still_read_as_the_number(value):
    done = settings_with("STREAM_REPLAY_BATCH", value)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5"
