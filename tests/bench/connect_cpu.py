"""Connects per second and the server's CPU per connect, for A/B runs.

    python -m tests.bench.connect_cpu '[["label", {"ENV": "value"}], ...]' [N]

Prepares the bench database once (as `make bench` does), then for each
(label, environment) starts the Procfile's server with that environment
added, opens N signed-in dashboard sockets up to `stream.live`, and prints
the open rate and the CPU seconds per connect of the event loop's thread
("main") and of every other thread ("other": the database threads). Set
REPS=n to run the list n times (the machine's speed drifts: compare runs
taken side by side only).
"""

import json
import os
import sys
import time

from tests.bench.run import Bench


def cpu_seconds(pid: int) -> dict[str, float]:
    """User + system CPU seconds of the process's threads, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    by_thread = {"main": 0.0, "other": 0.0}
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()  # the fields after the thread's name
        utime, stime = int(fields[11]), int(fields[12])
        by_thread["main" if task == str(pid) else "other"] += (utime + stime) / ticks
    return by_thread


def main():
    configs = json.loads(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    bench = Bench(quick=False)
    bench.prepare()
    for _ in range(int(os.environ.get("REPS", "1"))):
        for label, env in configs:
            base_env = dict(bench.env)
            bench.env.update(env)
            bench.start_server()
            try:
                time.sleep(1)  # past the worker's start
                before = cpu_seconds(bench.server.pid)
                processes, ready = bench.clients(
                    n,
                    path="/ws/stores/1/orders/",
                    mode="stream",
                    cookies=bench.staff_cookies,
                    per_process=max(1, n // 2),  # two client processes, as in `make bench`
                    concurrency=50,
                )
                after = cpu_seconds(bench.server.pid)
                opened = sum(r["ready"] - r["failed"] for r in ready)
                rate = opened / max(r["seconds"] for r in ready)
                bench.finish(processes, {})
                bench.settle()
            finally:
                bench.stop()
                bench.env = base_env
            per_connect = {k: round((after[k] - before[k]) / max(opened, 1) * 1000, 3) for k in after}
            print(f"{label:20} {rate:8.1f} opens/s  CPU ms per connect: {per_connect}", flush=True)


if __name__ == "__main__":
    main()
