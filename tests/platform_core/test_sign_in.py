"""Sign-ins under concurrency: attempts are counted before any password is
hashed, hashing holds no database connection and runs a few at a time, and
a success never erases failures that happened meanwhile.

Each sign-in runs in its own thread with its own database connection, as
requests do under uvicorn; the hasher is tests/hashers.py's, slow on
purpose, so the races are wide open.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.test import Client

from tests.clock import clear_of_window_edge
from tests.factories import PASSWORD
from tests.hashers import recorder

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def recording_hasher(world, settings):
    settings.PASSWORD_HASHERS = ["tests.hashers.RecordingHasher"]
    settings.LOGIN_WINDOW_SECONDS = 3600
    clear_of_window_edge(settings.LOGIN_WINDOW_SECONDS)
    recorder.reset()
    yield recorder
    recorder.resume.set()  # never leave a thread waiting on a failed test


def sign_in(username: str, password: str, *, path: str = "/accounts/login/", address: str = "10.0.0.1") -> int:
    try:
        client = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR=address)
        return client.post(path, {"username": username, "password": password}).status_code
    finally:
        connections.close_all()  # this thread's connection goes back to the pool


def at_once(attempts: list[tuple[str, str]], **kwargs) -> list[int]:
    """Every (username, password) signed in from its own thread, all released together."""
    start = threading.Barrier(len(attempts))

    def one(attempt):
        start.wait()
        return sign_in(*attempt, **kwargs)

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(one, attempts))


def test_concurrent_wrong_passwords_never_hash_more_than_the_limit(world, settings):
    settings.LOGIN_FAILURES_PER_USERNAME = 5
    statuses = at_once([("staff1", f"wrong-{n}") for n in range(20)])
    assert recorder.hashes == 5  # each attempt was counted before its hash, atomically
    assert sorted(statuses) == [200] * 5 + [429] * 15


def test_the_admin_sign_in_counts_before_hashing_too(world, settings):
    settings.LOGIN_FAILURES_PER_USERNAME = 3
    statuses = at_once([("admin", f"wrong-{n}") for n in range(12)], path="/admin/login/")
    assert recorder.hashes == 3
    assert sorted(statuses) == [200] * 3 + [429] * 9


def test_a_right_password_during_failures_does_not_erase_them(world, settings):
    settings.LOGIN_FAILURES_PER_USERNAME = 10
    recorder.reset(pause_password=PASSWORD)
    with ThreadPoolExecutor(1) as pool:
        right = pool.submit(sign_in, "staff1", PASSWORD)
        assert recorder.paused.wait(timeout=10), "the right password never reached the hasher"
        # While the right password is being checked, six wrong ones fail.
        assert at_once([("staff1", f"wrong-{n}") for n in range(6)]) == [200] * 6
        recorder.resume.set()
        assert right.result(timeout=10) == 302

    # The success took back its own attempt only: 10 - 6 failures are left.
    assert [sign_in("staff1", "wrong") for _ in range(5)] == [200] * 4 + [429]


def test_hashing_holds_no_database_connection_and_runs_a_few_at_a_time(world, settings):
    settings.SIGN_IN_CONCURRENCY = 2
    settings.LOGIN_FAILURES_PER_ADDRESS = 100
    # Known and unknown names: an unknown one is hashed too (the same time as a real check).
    names = ["staff1", "staff2", "admin", "customer", "nobody-1", "nobody-2", "nobody-3", "nobody-4"]
    statuses = at_once([(name, "wrong") for name in names])
    assert statuses == [200] * len(names)
    assert recorder.hashes == len(names)
    assert recorder.with_connection == 0  # the pooled connection was back in the pool
    assert recorder.most_running <= 2


def test_a_success_during_concurrent_sign_ins_still_signs_in(world, settings):
    """Django's LoginView as before: the session is made, `next` is followed."""
    settings.SIGN_IN_CONCURRENCY = 1
    client = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR="10.0.0.3")
    with ThreadPoolExecutor(4) as pool:
        others = [pool.submit(sign_in, "staff2", "wrong", address="10.0.0.4") for _ in range(4)]
        response = client.post("/accounts/login/?next=/orders/", {"username": "staff1", "password": PASSWORD})
        assert [other.result(timeout=20) for other in others] == [200] * 4
    connections.close_all()
    assert response.status_code == 302 and response["Location"] == "/orders/"
    assert client.get("/api/orders").status_code == 200  # signed in


def checked_out(pool) -> int:
    """Connections of the pool that some thread holds now."""
    stats = pool.get_stats()
    return stats["pool_size"] - stats["pool_available"]


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_a_sign_in_waiting_for_its_turn_holds_no_connection_and_gives_up_with_503(world, settings, path):
    settings.SIGN_IN_CONCURRENCY, settings.SIGN_IN_QUEUE_SECONDS = 1, 1.5
    settings.LOGIN_FAILURES_PER_USERNAME = 1
    recorder.reset(pause_password=PASSWORD)
    pool = connections["default"].pool
    connections.close_all()  # this thread's own
    before = checked_out(pool)

    def refused_sign_in():
        try:
            return Client(HTTP_HOST="acme.localhost").post(path, {"username": "staff2", "password": "wrong"})
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as threads:
        first = threads.submit(sign_in, "admin", PASSWORD, path=path)  # takes the only slot, and keeps it
        assert recorder.paused.wait(timeout=10)
        waiting = threads.submit(refused_sign_in)
        try:
            time.sleep(0.5)
            assert checked_out(pool) == before  # neither the hashing nor the waiting sign-in holds one
        finally:
            refused = waiting.result(timeout=10)
            recorder.resume.set()
        assert first.result(timeout=10) == 302
    assert refused.status_code == 503 and refused["Retry-After"] == "5"
    assert b"Too many sign-ins at once" in refused.content
    # The refused attempt was never checked, so it is not a failure.
    assert [sign_in("staff2", "wrong", path=path) for _ in range(2)] == [200, 429]
