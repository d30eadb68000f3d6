"""A burst of wrong sign-ins on one tenant, under uvicorn with the real
PBKDF2 hasher and a small database pool: the other tenants are still
served, quickly, and nothing waits for a database connection.

It used to exhaust the pool: every sign-in held a pooled connection while
it hashed, so 100 of them answered 503s, another tenant's API call waited
for a connection and got a 503, and the job loop logged PoolTimeout.
"""

import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django_tenants.utils import tenant_context

from tests.servers import uvicorn_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]

BURST = 100
CSRF = "b" * 32  # a CSRF secret of our choosing, sent as cookie and form field


def request(server, path: str, *, host: str, data: dict | None = None, token: str | None = None) -> int:
    headers = {"Host": host, "Cookie": f"csrftoken={CSRF}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": CSRF}).encode() if data is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_sign_in_burst_on_one_tenant_leaves_the_others_served(world, tmp_path):
    from platform_core.tokens import api_token_create

    with tenant_context(world.globex.tenant):
        _, globex_token = api_token_create(user=world.globex.staff1, name="burst")
    env = {
        "DB_POOL_MAX": "6",
        "PREGON_TEST_REAL_HASHER": "1",  # PBKDF2 as deployed: hundreds of ms of CPU per sign-in
        "JOBS_POLL_SECONDS": "0.5",  # the job loop asks the pool for a connection twice a second
        # The limits count in fixed windows (platform_core/limits.py): a burst
        # across a window's end would count its two halves apart (CI once saw
        # 95 checked). Ten-year windows keep this burst in one.
        "LOGIN_WINDOW_SECONDS": str(10 * 365 * 24 * 3600),
    }
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log, uvicorn_server(extra_env=env, output=log) as server:
        assert request(server, "/accounts/login/", host="acme.localhost") == 200

        other_tenant: list[tuple[int, float]] = []
        burst_over = threading.Event()

        def globex_keeps_working():
            while not burst_over.is_set():
                started = time.monotonic()
                status = request(server, "/api/stores/1/orders", host="globex.localhost", token=globex_token)
                other_tenant.append((status, time.monotonic() - started))
                time.sleep(0.1)

        start = threading.Barrier(BURST)

        def wrong_sign_in(n: int) -> int:
            start.wait()
            # A password spray: a new (unknown) name each time, all from one address.
            return request(
                server, "/accounts/login/", host="acme.localhost", data={"username": f"ghost-{n}", "password": "guess"}
            )

        with ThreadPoolExecutor(BURST + 1) as pool:
            watcher = pool.submit(globex_keeps_working)
            burst = Counter(pool.map(wrong_sign_in, range(BURST)))
            burst_over.set()
            watcher.result()

    # Every sign-in was answered, none for want of a connection: the first
    # LOGIN_FAILURES_PER_ADDRESS (50) were checked, the rest refused at once.
    assert burst == {200: 50, 429: 50}
    statuses = Counter(status for status, _ in other_tenant)
    slowest = max(seconds for _, seconds in other_tenant)
    assert statuses == {200: len(other_tenant)} and len(other_tenant) >= 10, statuses
    # Before: 5 s waiting for a pooled connection (DB_POOL_TIMEOUT), then a
    # 503. Measured after: 0.2-0.6 s at worst, on two shared cores. The p99
    # target is the bench's to measure, not this test's.
    assert slowest < 2, f"globex waited {slowest:.1f} s"
    assert "PoolTimeout" not in log_path.read_text()
