"""`make bench`: run the product the way the Procfile does and measure it.

    python -m tests.bench.run [--quick] [--write docs/performance.md]

Needs DATABASE_URL and REDIS_URL (real PostgreSQL and Redis; `make bench`
points them at this machine's). Creates a fresh database `pregon_bench`
(`BENCH_NAME` renames it and the channel-layer prefix, so two benches can
share the machine's services),
starts uvicorn with the Procfile's `web` command (DEBUG off), drives it from
separate load-generator processes (tests/bench/clients.py), and runs every
scenario of the targets table in shared/PRODUCT.md. Prints a table and, with
--write, writes docs/performance.md. Timings are reported, never asserted:
the quick mode is a smoke run that only fails if something is broken.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
HOST = "bench.localhost"
PASSWORD = "bench-pass-123"


def shown_value(value) -> str:
    """Floats with one decimal, ratios (below 10) with two: 0.23, not 0.2."""
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Bench:
    def __init__(self, quick: bool):
        self.quick = quick
        for name in ("DATABASE_URL", "REDIS_URL"):
            if not os.environ.get(name):
                sys.exit(f"{name} must point at a real service (make bench sets it)")
        url = urlsplit(os.environ["DATABASE_URL"])
        self.name = os.environ.get("BENCH_NAME", "pregon_bench")
        self.maintenance_url = urlunsplit(url._replace(path="/postgres"))
        self.env = {
            **os.environ,
            "DATABASE_URL": urlunsplit(url._replace(path=f"/{self.name}")),
            "DEBUG": "false",
            "SECRET_KEY": "bench-only",
            "ALLOWED_HOSTS": ".localhost,127.0.0.1",
            "SECURE_COOKIES": "false",
            "CHANNEL_LAYER_PREFIX": self.name.replace("_", "-"),
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            # A few users hold thousands of sockets and one integration sends
            # hundreds of orders a second: measure capacity, not the limits.
            "SOCKETS_PER_USER": "1000000",
            "WEBHOOK_REQUESTS_PER_MINUTE": "100000000",
        }
        self.rows: list[dict] = []
        self.port = 18000 + os.getpid() % 1000

    # --- setup ------------------------------------------------------------------------------
    def prepare(self):
        import psycopg

        with psycopg.connect(self.maintenance_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {self.name}")
        subprocess.run(
            [sys.executable, "manage.py", "migrate_schemas", "--shared", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=self.env,
            check=True,
        )
        os.environ.update(self.env)
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.test import Client
        from django_tenants.utils import tenant_context

        from orders.integrations.services import integration_create
        from stores.models import StaffMembership, Store
        from tenants.models import Domain, Tenant

        Tenant(schema_name="public", name="public").save()
        self.tenant = Tenant(schema_name="bench", name="Bench")
        self.tenant.save(verbosity=0)
        Domain.objects.create(domain=HOST, tenant=self.tenant, is_primary=True)
        with tenant_context(self.tenant):
            User = get_user_model()
            for store_id in range(1, 11):
                Store.objects.create(id=store_id, name=f"Bench store {store_id}")
            staff = [User.objects.create_user(f"staff{i}", password=PASSWORD) for i in range(10)]
            for user in staff:
                StaffMembership.objects.create(user=user, store_id=1)
            self.customers = [User.objects.create_user(f"customer{i}", password=PASSWORD) for i in range(200)]
            self.staff_cookies = [self._cookie(Client(), u) for u in staff]
            self.customer_cookies = [self._cookie(Client(), u) for u in self.customers]
            self.integration, self.secret = integration_create(name="bench")

    @staticmethod
    def _cookie(client, user):
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}"

    def start_server(self, *, workers: int = 1, **extra_env):
        web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
        command = web.split(":", 1)[1].strip().replace("--host 0.0.0.0", "--host 127.0.0.1")
        if "--workers" not in command:  # a Procfile without WEB_CONCURRENCY
            command += f" --workers {workers}"
        extra_env.setdefault("WEB_CONCURRENCY", str(workers))
        self.server = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=ROOT,
            env={
                **self.env,
                **extra_env,
                "PORT": str(self.port),
                "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            },
        )
        deadline = time.time() + 30
        import socket

        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.2)
        sys.exit("the server did not start")

    def rss(self) -> int:
        import psutil

        return psutil.Process(self.server.pid).memory_info().rss

    def stop(self):
        if getattr(self, "server", None):
            self.server.terminate()
            self.server.wait(timeout=20)
            self.server = None

    # --- load generators ------------------------------------------------------------------------
    def clients(
        self,
        total: int,
        *,
        path: str,
        mode: str,
        cookies,
        per_process: int = 1000,
        after=None,
        raw_port=None,
        concurrency=100,
        compression=None,
    ):
        processes = []
        for start in range(0, total, per_process):
            rotated = cookies[start % len(cookies) :] + cookies[: start % len(cookies)] if cookies else None
            config = {
                "count": min(per_process, total - start),
                "mode": mode,
                "cookies": rotated,
                "url": f"ws://{HOST}:{raw_port or self.port}{path}",
                "origin": f"http://{HOST}:{raw_port or self.port}",
                "connect_host": "127.0.0.1",
                "connect_port": raw_port or self.port,
                "after": after,
                "raw": raw_port is not None,
                "concurrency": concurrency,
                "compression": compression,
            }
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.bench.clients", json.dumps(config)],
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        ready = [json.loads(p.stdout.readline()) for p in processes]
        return processes, ready

    @staticmethod
    def finish(processes, order: dict) -> list[dict]:
        for p in processes:
            p.stdin.write(json.dumps(order) + "\n")
            p.stdin.flush()
        results = [json.loads(p.stdout.readline()) for p in processes]
        for p in processes:
            p.wait(timeout=60)
        return results

    # --- publishers (this process, through the product's own services) ----------------------------
    def start_loop(self):
        """Publishers run as server code does: sync work on a worker thread
        whose async_to_sync publish hops back to one event loop (and its
        Redis connection), not a new loop and connection per publish."""
        import asyncio

        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def call(self, func, *args):
        import asyncio

        from asgiref.sync import sync_to_async

        async def run():
            return await sync_to_async(func, thread_sensitive=False)(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result()

    def order(self, i: int, stamps: dict | None = None, store_id: int = 1) -> None:
        self.call(self._order, i, stamps, store_id)

    def _order(self, i: int, stamps: dict | None, store_id: int) -> None:
        from django.db import transaction
        from django_tenants.utils import tenant_context

        from orders.services import order_create

        with tenant_context(self.tenant), transaction.atomic():
            if stamps is not None:
                # Registered before the publish callback: runs at commit, first.
                transaction.on_commit(lambda: stamps.__setitem__(i, time.time()))
            order_create(store_id=store_id, external_id=f"B-{i}-{time.time_ns()}", total="12.50")

    def settle(self, timeout: float = 120) -> None:
        """Wait until the server has said goodbye to every dashboard socket
        (after a real restart the old sockets die with their process; here
        the same server would still be closing them while the storm hits)."""
        from django_tenants.utils import tenant_context

        from stores.models import PresenceSession

        deadline = time.time() + timeout
        while time.time() < deadline:
            with tenant_context(self.tenant):
                if not PresenceSession.objects.exists():
                    return
            time.sleep(0.5)

    def latest_seq(self) -> int:
        from django_tenants.utils import tenant_context

        from orders.selectors import latest_seq

        with tenant_context(self.tenant):
            return latest_seq(store_id=1)

    def record(self, scenario, metric, value, unit="", target=None, met=None):
        self.rows.append(
            {"scenario": scenario, "metric": metric, "value": value, "unit": unit, "target": target or "", "met": met}
        )
        shown = shown_value(value)
        flag = "" if met is None else ("  ✓" if met else "  ✗")
        print(f"  {scenario:34} {metric:34} {shown:>12} {unit:8} {target or '':22}{flag}", flush=True)

    # --- scenarios -------------------------------------------------------------------------------
    def idle(self):
        n = 500 if self.quick else 10_000
        time.sleep(1)
        before = self.rss()
        started = time.time()
        processes, ready = self.clients(
            n, path="/ws/notifications/", mode="idle", cookies=self.customer_cookies, per_process=2000
        )
        connected = sum(r["ready"] for r in ready)
        elapsed = time.time() - started
        time.sleep(3)
        after = self.rss()
        per_socket = (after - before) / max(connected, 1) / 1024
        # The bells stay open through the fan-out rows (the issue's "10,000
        # idle bells on the same worker"); `release_idle` closes them.
        self.idle_processes, self.idle_count = processes, connected
        self.record("idle sockets (1 worker)", "sockets held", connected, "", f"{n:,}", connected == n)
        self.record("idle sockets (1 worker)", "connect rate", connected / elapsed, "/s")
        self.record("idle sockets (1 worker)", "RSS per socket", per_socket, "KB", "≤ 40 KB", per_socket <= 40)

    def idle_size(self) -> int:
        return 0 if not getattr(self, "idle_processes", None) else self.idle_count

    def start_raw(self) -> tuple[int, subprocess.Popen]:
        """The baseline: a bare `websockets` server (tests/bench/raw_broadcast.py), started."""
        raw_port = self.port + 1
        raw = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.raw_broadcast", str(raw_port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        raw.stdout.readline()
        return raw_port, raw

    def release_idle(self):
        if getattr(self, "idle_processes", None):
            self.finish(self.idle_processes, {})
            self.idle_processes = None

    def start_slow_reader(self):
        """One dashboard socket of store 1 that never reads, beside the fan-out."""
        config = {
            "path": "/ws/stores/1/orders/",
            "host": f"{HOST}:{self.port}",
            "origin": f"http://{HOST}:{self.port}",
            "cookie": self.staff_cookies[0],
            "connect_host": "127.0.0.1",
            "connect_port": self.port,
        }
        self.slow_reader = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.slow_reader", json.dumps(config)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if not json.loads(self.slow_reader.stdout.readline())["ready"]:
            sys.exit("the slow reader could not connect")

    def stop_slow_reader(self):
        if getattr(self, "slow_reader", None):
            self.slow_reader.stdin.write("\n")
            self.slow_reader.stdin.flush()
            self.slow_reader.wait(timeout=20)
            self.slow_reader = None

    def fanout(self, n: int, orders: int, gap: float, label: str, target_ms: float | None = None):
        processes, ready = self.clients(n, path="/ws/stores/1/orders/", mode="stream", cookies=self.staff_cookies)
        base = self.latest_seq()
        stamps: dict[int, float] = {}
        for i in range(orders):
            self.order(base + i + 1, stamps)
            time.sleep(gap)
        results = self.finish(processes, {"commit": stamps, "expect": [base + 1, base + orders]})
        latencies = [x for r in results for x in r["latencies_ms"]]
        lost = sum(r["missing"] for r in results)
        duplicates = sum(r["duplicates"] for r in results)
        p99 = pct(latencies, 99)
        self.record(label, "p50 commit→receive", pct(latencies, 50), "ms")
        self.record(
            label,
            "p99 commit→receive",
            p99,
            "ms",
            f"≤ {target_ms:g} ms" if target_ms else None,
            p99 <= target_ms if target_ms else None,
        )
        self.record(
            label, "lost / duplicate deliveries", f"{lost} / {duplicates}", "", "0 / 0", lost == 0 and duplicates == 0
        )

    def throughput(self, n: int, orders: int, label: str | None = None):
        # Ours: orders as fast as two publishers can commit them, N sockets.
        processes, _ = self.clients(n, path="/ws/stores/1/orders/", mode="stream", cookies=self.staff_cookies)
        base = self.latest_seq()
        stamps: dict[int, float] = {}
        started = time.time()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda i: self.order(base + 1 + i, stamps), range(orders)))
        results = self.finish(processes, {"expect": [base + 1, base + orders], "wait": 60})
        received = sum(r["received"] for r in results)
        ours = received / (max(r["last_receive"] for r in results) - started)
        lost = sum(r["missing"] for r in results)

        # The baseline: a bare websockets broadcast server, the same clients.
        raw_port, raw = self.start_raw()
        processes, _ = self.clients(n, path="/", mode="stream", cookies=None, raw_port=raw_port)
        import asyncio

        import websockets

        async def go():
            async with websockets.connect(f"ws://127.0.0.1:{raw_port}/") as control:
                await control.recv()
                started = time.time()
                await control.send(f"go {orders}")
                while await control.recv() != "done":
                    pass
                return started

        raw_started = asyncio.run(go())
        results = self.finish(processes, {"expect": [1, orders], "wait": 60})
        raw.terminate()
        raw_received = sum(r["received"] for r in results)
        baseline = raw_received / (max(r["last_receive"] for r in results) - raw_started)
        label = label or f"fan-out throughput, N={n:,}"
        self.record(label, "our deliveries/s", ours, "/s")
        self.record(label, "raw websockets deliveries/s", baseline, "/s")
        self.record(label, "ratio ours / raw", ours / baseline, "", "≥ 0.6", ours / baseline >= 0.6)
        self.record(label, "lost deliveries", lost, "", "0", lost == 0)

    def notifications(self, total: int, *, batch: int = 1, rate: int | None = None):
        """Notifications created by four publisher threads through the
        product's services, `batch` recipients per call (1: one at a time,
        `notification_create`; more: `notifications_create_many`, as an
        order's watchers or a store's staff get one alert each), and
        received by their recipients' sockets on one worker. Counted by id:
        each must reach its recipient's socket, once, and no one else's.

        With `rate` (notifications/s), calls are started on a fixed
        schedule (the latency row: p99 at that rate); without, as fast as
        the threads go (the throughput row: created and delivered per
        second, up to the last socket's receive)."""
        from django.db import transaction
        from django_tenants.utils import tenant_context

        from alerts.models import Notification
        from alerts.services import notification_create, notifications_create_many

        processes, _ = self.clients(
            len(self.customers),
            path="/ws/notifications/",
            mode="notifications",
            cookies=self.customer_cookies,
            per_process=100,
        )
        recipient_of: dict[int, int] = {}
        stamps: dict[int, float] = {}
        lock = threading.Lock()
        customers = self.customers
        calls = total // batch
        started = time.time() + 0.5

        def create(i):
            if rate:
                time.sleep(max(0.0, started + i * batch / rate - time.time()))
            with tenant_context(self.tenant), transaction.atomic():
                holder = {}
                transaction.on_commit(lambda: holder.__setitem__("t", time.time()))
                if batch == 1:
                    created = [
                        notification_create(
                            recipient=customers[i % len(customers)], kind=Notification.Kind.SYSTEM, title=f"bench {i}"
                        )
                    ]
                else:
                    first = i * batch
                    created = notifications_create_many(
                        recipients=[customers[(first + k) % len(customers)] for k in range(batch)],
                        kind=Notification.Kind.SYSTEM,
                        title=f"bench {i}",
                    )
            with lock:
                for n in created:
                    stamps[n.pk] = holder["t"]
                    recipient_of[n.pk] = n.recipient_id

        time.sleep(max(0.0, started - time.time()))
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: self.call(create, i), range(calls)))
        elapsed = time.time() - started
        created = len(stamps)
        results = self.finish(processes, {"commit": stamps, "expect_ids": True, "wait": 30})
        latencies = [x for r in results for x in r.get("latencies_ms", [])]
        last_receive = max(r.get("last_receive", 0.0) for r in results)
        user_of_cookie = dict(zip(self.customer_cookies, (c.pk for c in customers), strict=True))
        delivered, duplicates, misdelivered = set(), 0, 0
        for result in results:
            for cookie, ids in result.get("by_cookie", {}).items():
                for nid in ids:
                    if recipient_of[nid] != user_of_cookie[cookie]:
                        misdelivered += 1
                    elif nid in delivered:
                        duplicates += 1
                    else:
                        delivered.add(nid)
        if batch == 1:
            label = "personal notifications, one at a time"
        else:
            label = f"personal notifications, {batch} per commit" + (f", at {rate:,}/s" if rate else "")
        p99 = pct(latencies, 99)
        if rate:
            self.record(label, "persisted + published", created / elapsed, "/s")
            self.record(label, "p99 commit→receive", p99, "ms", "≤ 100 ms", p99 <= 100)
        else:
            self.record(label, "persisted + published", created / elapsed, "/s")
            through = len(delivered) / max(last_receive - started, elapsed)
            target = 2000 if batch > 1 else None
            self.record(
                label,
                "created and delivered",
                through,
                "/s",
                f"≥ {target:,}/s" if target else None,
                through >= target if target else None,
            )
            self.record(label, "p99 commit→receive", p99, "ms")
        self.record(label, "delivered / created", f"{len(delivered)} / {created}", "", "all", len(delivered) == created)
        self.record(
            label,
            "duplicate / misdelivered",
            f"{duplicates} / {misdelivered}",
            "",
            "0 / 0",
            duplicates == 0 and misdelivered == 0,
        )

    def connect_rate(self, n: int):
        """Opens per second: N signed-in dashboard sockets, each up to its
        `stream.live`, then the same clients (same processes, same
        concurrency) against a bare `websockets` server that accepts and
        sends one frame. Twice each, taking turns (ours, raw, ours, raw),
        and the ratio of the means: one round of either moved by a tenth
        or more from one round to the next."""
        per_process, concurrency = max(1, n // 2), 50
        raw_port, raw = self.start_raw()
        rates: dict[str, list[float]] = {"ours": [], "raw": []}
        failed = {"ours": 0, "raw": 0}
        try:
            for side in ("ours", "raw", "ours", "raw"):
                ours = side == "ours"
                processes, ready = self.clients(
                    n,
                    path="/ws/stores/1/orders/" if ours else "/",
                    mode="stream",
                    cookies=self.staff_cookies if ours else None,
                    raw_port=None if ours else raw_port,
                    per_process=per_process,
                    concurrency=concurrency,
                )
                opened = sum(r["ready"] - r["failed"] for r in ready)
                rates[side].append(opened / max(r["seconds"] for r in ready))
                failed[side] += n - opened
                self.finish(processes, {})
                self.settle()
        finally:
            raw.terminate()
            raw.wait(timeout=20)
        ours, baseline = statistics.mean(rates["ours"]), statistics.mean(rates["raw"])
        label = f"connect, N={n:,}"
        self.record(label, "our opens/s (up to stream.live)", ours, "/s")
        self.record(label, "raw websockets opens/s", baseline, "/s")
        shown = " / ".join(f"{rate:,.0f}" for rate in rates["ours"]) + " · "
        self.record(label, "rounds, ours · raw (/s)", shown + " / ".join(f"{rate:,.0f}" for rate in rates["raw"]))
        self.record(label, "ratio ours / raw (means)", ours / baseline, "", "≥ 0.5", ours / baseline >= 0.5)
        self.record(
            label,
            "failed opens (ours / raw)",
            f"{failed['ours']} / {failed['raw']}",
            "",
            "0 / 0",
            failed["ours"] == failed["raw"] == 0,
        )

    def reconnect_storm(self, clients: int, missed: int):
        processes, ready = self.clients(clients, path="/ws/stores/1/orders/", mode="stream", cookies=self.staff_cookies)
        base = self.latest_seq()
        self.finish(processes, {})  # everyone goes away
        self.settle()
        for i in range(missed):
            self.order(base + 1 + i)
        started = time.time()
        processes, ready = self.clients(
            clients, path="/ws/stores/1/orders/", mode="stream", cookies=self.staff_cookies, after=base, concurrency=200
        )
        elapsed = time.time() - started
        results = self.finish(processes, {"expect": [base + 1, base + missed], "wait": 30})
        reconnected = sum(r["ready"] for r in ready)
        bad = sum(r["missing"] + r["duplicates"] for r in results)
        label = f"reconnect storm, {clients:,} × {missed} missed"
        self.record(
            label, "all reconnected and replayed in", elapsed, "s", "≤ 10 s", elapsed <= 10 and reconnected == clients
        )
        self.record(label, "missing + duplicate seq", bad, "", "0", bad == 0)

    def webhooks(
        self, rate: int | None, total: int, *, label: str | None = None, warm: int = 0, workers: int = 1
    ) -> float:
        """`warm`: requests sent first and not counted (a worker's first
        batches are slower: its connections, statement plans and the record
        of hosts are new; the two-worker row starts a fresh server). The
        max-rate rows keep WEBHOOK_CONNECTIONS requests in flight per worker."""
        result = self.send_webhooks(total, rate, warm=warm, workers=workers)
        label = label or "webhook ingestion" + (f" at {rate}/s" if rate else " (max)")
        if rate is None:
            self.record(label, "orders/s", result["rate"], "/s", "≥ 500/s", result["rate"] >= 500)
        else:
            self.record(label, "p99 latency", result["p99"], "ms", "≤ 50 ms", result["p99"] <= 50)
        self.record(label, "p50 latency", result["p50"], "ms")
        self.record(label, "errors", result["errors"], "", "0", result["errors"] == 0)
        if result["errors"]:
            print(f"    answers by status: {result['statuses']}", flush=True)
        return result["rate"]

    def send_webhooks(self, total: int, rate: int | None = None, *, warm: int = 0, workers: int = 1) -> dict:
        from tests.bench.webhook_load import run

        def send(count: int, rate: int | None = None) -> dict:
            return run(
                port=self.port,
                host=HOST,
                integration_id=self.integration.pk,
                secret=self.secret,
                total=count,
                rate=rate,
                concurrency=WEBHOOK_CONNECTIONS * workers if rate is None else 16,
            )

        if warm:
            send(warm)
        return send(total, rate)

    def webhooks_two_workers(self, one_worker: float, total: int):
        """The same load on `--workers 2` (target 5 of issue 15: ≥ 1.7× one).

        One run of each is as far apart as the ratio's target: the same
        server and load differed by a tenth from one run to the next
        (2026-12-04), so the servers take turns, 2, 1, 2 workers, after the
        max row's one worker, and the ratio is of their means."""
        label = "webhook ingestion, 2 workers"
        runs = {1: [one_worker], 2: []}
        for workers in (2, 1, 2):
            self.stop()
            self.start_server(workers=workers)
            time.sleep(2)  # both workers up: uvicorn accepts before the second has imported the app
            result = self.send_webhooks(total, warm=WARM_WEBHOOKS, workers=workers)
            runs[workers].append(result["rate"])
            errors = result["errors"]
            if errors:
                print(f"    answers by status: {result['statuses']}", flush=True)
                break
        self.record(label, "orders/s (mean of 2 runs)", statistics.mean(runs[2]), "/s")
        self.record(label, "errors", errors, "", "0", errors == 0)
        shown = " / ".join(f"{rate:,.0f}" for rate in runs[1]) + " · " + " / ".join(f"{rate:,.0f}" for rate in runs[2])
        self.record(label, "runs, 1 worker · 2 workers (/s)", shown)
        ratio = statistics.mean(runs[2]) / statistics.mean(runs[1])
        self.record(label, "ratio to 1 worker (means)", ratio, "×", "≥ 1.7×", ratio >= 1.7)


def write_report(bench: Bench, command: str, path: Path):
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    import psutil

    lines = [
        "# Performance",
        "",
        "Measured by `make bench` (tests/bench/): the product started with the Procfile's `web` command",
        "(one uvicorn worker, DEBUG off), real PostgreSQL and Redis, driven by separate load-generator",
        "processes on the same machine. Every figure below was printed by that run; none is typed in.",
        "",
        f"- command: `{command}`",
        f"- commit: `{commit}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"{platform.platform()}, Python {platform.python_version()}",
        f"- mode: {'quick (smoke)' if bench.quick else 'full'}",
        "",
        "| scenario | metric | value | target | met |",
        "|---|---|---|---|---|",
    ]
    for row in bench.rows:
        value = row["value"]
        shown = shown_value(value)
        met = "" if row["met"] is None else ("yes" if row["met"] else "**no**")
        lines.append(f"| {row['scenario']} | {row['metric']} | {shown} {row['unit']} | {row['target']} | {met} |")
    lines += capacity(bench.rows)
    path.write_text("\n".join(lines) + "\n" + NOTES)


def capacity(rows) -> list[str]:
    """Capacity of one worker, computed from this run's figures."""
    value = {(r["scenario"], r["metric"]): r["value"] for r in rows}
    lines = ["", "## Capacity of one worker (derived from the figures above)", ""]
    per_socket = value.get(("idle sockets (1 worker)", "RSS per socket"))
    if isinstance(per_socket, float) and per_socket > 0:
        lines.append(
            f"- idle sockets: {1024 * 1024 / per_socket:,.0f} per GiB of worker memory "
            f"({per_socket:.1f} KB each); the 20,000 open-file limit caps a process at about 19,000"
        )
    deliveries = next(
        (
            r["value"]
            for r in rows
            if r["scenario"].startswith("fan-out throughput") and r["metric"] == "our deliveries/s"
        ),
        None,
    )
    if isinstance(deliveries, float):
        lines.append(
            f"- store fan-out: about {deliveries:,.0f} deliveries/s per worker on this shared 2-core machine; "
            f"with one order per second per store that is {deliveries / 100:,.0f} busy dashboards of 100 sockets"
        )
    webhooks = value.get(("webhook ingestion (max)", "orders/s"))
    if isinstance(webhooks, float):
        lines.append(
            f"- webhook ingestion: about {webhooks:,.0f} orders/s per worker; add workers (one per core) to add more"
        )
    one = value.get(("personal notifications, one at a time", "created and delivered"))
    many = value.get((f"personal notifications, {BATCH} per commit", "created and delivered"))
    if isinstance(one, float) and isinstance(many, float):
        lines.append(
            f"- personal notifications: about {many:,.0f}/s created and delivered from four publisher threads "
            f"in commits of {BATCH} recipients, {one:,.0f}/s one per commit"
        )
    return lines


NOTES = Path(__file__).with_name("notes.md").read_text() if Path(__file__).with_name("notes.md").exists() else ""


# Recipients per commit in the bulk notifications row: an order's watchers,
# a store's staff, a small announcement.
BATCH = 50

# Webhooks sent, and not counted, before each max-rate row (Bench.webhooks).
WARM_WEBHOOKS = 300
# Requests in flight per worker in the max-rate rows (one keep-alive
# connection each): enough to fill a worker's batches. With 16, one worker
# was not at its maximum (2026-12-04, `bench.webhooks` repeated on one
# bench database: 16 → 1,107 and 1,139/s, 32 → 1,669 and 1,645/s,
# 64 → 1,702/s, 128 → 1,524/s). Two workers share the connections about
# evenly, so they get twice as many: with 64 in all they made
# 1,685–2,270/s, with 128 2,198–2,563/s, while one worker made the same
# with either (1,255–1,480/s; each alternating on one server, 2026-12-04
# 20:50, a `/tmp` script around `Bench.webhooks`). The rate rows keep 16:
# there the rate, not the connections, sets the load.
WEBHOOK_CONNECTIONS = 64

SCENARIOS = ("connect", "idle", "fanout", "throughput", "notifications", "storm", "webhooks")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small numbers: a smoke run")
    parser.add_argument("--write", help="write the report here (docs/performance.md)")
    parser.add_argument("--only", help="comma-separated scenarios to run: " + ", ".join(SCENARIOS))
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else set(SCENARIOS)
    if wanted - set(SCENARIOS):
        sys.exit(f"unknown scenarios: {', '.join(sorted(wanted - set(SCENARIOS)))}")
    bench = Bench(args.quick)
    print("preparing the bench database…", flush=True)
    bench.prepare()
    bench.start_server()
    bench.start_loop()
    try:
        print(f"  {'scenario':34} {'metric':34} {'value':>12} {'unit':8} target", flush=True)
        if "connect" in wanted:
            bench.connect_rate(300 if bench.quick else 2000)
        if "idle" in wanted:
            bench.idle()
        if "fanout" in wanted or "throughput" in wanted:
            # The fan-out rows run beside the idle bells (kept open from the
            # idle row), with the bells' repair on (the default) and one
            # dashboard of store 1 that never reads.
            bench.start_slow_reader()
            beside = f" (+{bench.idle_size():,} idle bells, 1 slow reader)"
        if "fanout" in wanted:
            # One commit's fan-out (commits 0.5 s apart), then a sustained rate.
            for n in (10, 100, 1000):
                bench.fanout(
                    n,
                    orders=10 if bench.quick else 20,
                    gap=0.5,
                    label=f"store fan-out, N={n:,}" + (beside if n == 1000 else ""),
                    target_ms=150 if n == 1000 else None,
                )
            bench.fanout(
                100,
                orders=40 if bench.quick else 100,
                gap=0.05,
                label="store fan-out, N=100 at 20 orders/s",
                target_ms=50,
            )
        if "throughput" in wanted:
            n = 200 if bench.quick else 1000
            bench.throughput(n, orders=50 if bench.quick else 200, label=f"fan-out throughput, N={n:,}" + beside)
        if "fanout" in wanted or "throughput" in wanted:
            bench.stop_slow_reader()
        bench.release_idle()
        if "notifications" in wanted:
            bench.notifications(500 if bench.quick else 4000)
            bench.notifications(2000 if bench.quick else 20000, batch=BATCH)
            bench.notifications(2000 if bench.quick else 20000, batch=BATCH, rate=2000)
        if "storm" in wanted:
            bench.reconnect_storm(300 if bench.quick else 5000, 20)
        if "webhooks" in wanted:
            one_worker = bench.webhooks(None, 300 if bench.quick else 6000, warm=WARM_WEBHOOKS)
            bench.webhooks(300, 300 if bench.quick else 3000)
            # Last: it restarts the server with two workers.
            bench.webhooks_two_workers(one_worker, 300 if bench.quick else 6000)
    finally:
        bench.stop()
        # Whatever was measured is kept, even if a later scenario failed.
        if args.write:
            write_report(bench, "make bench" + (" QUICK=1" if args.quick else ""), ROOT / args.write)
            print(f"wrote {args.write}")
        (ROOT / "var").mkdir(exist_ok=True)
        (ROOT / "var" / "bench-results.json").write_text(json.dumps({"quick": bench.quick, "rows": bench.rows}))
    broken = [
        r
        for r in bench.rows
        if r["metric"].startswith(("lost", "missing", "errors", "delivered", "duplicate", "failed"))
        and r["met"] is False
    ]
    sys.exit(1 if broken and args.quick else 0)


if __name__ == "__main__":
    main()
