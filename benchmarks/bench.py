"""Speed figures for Aliados, printed, never asserted.

    python benchmarks/bench.py views            # 20,000 allies: build the Aliados view
    python benchmarks/bench.py import           # import 10,000 and 100,000 from the sandbox
    python benchmarks/bench.py import --limited # with the sandbox at 100 requests per minute
    python benchmarks/bench.py all

Each import runs in a child process of its own, so its peak memory is its own;
the sandbox runs in another process, as Siigo would. Figures are medians of
several runs where a run is cheap; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE_SIZE = 100
BENCH_ACTOR_NAME = "benchmark"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_sandbox(customers: int, rpm: int = 0) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "sandbox", "--port", str(port),
         "--customers", str(customers), "--rpm", str(rpm)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the sandbox did not start")


def _child_import(base_url: str, database_url: str, rpm: int) -> dict:
    """Run one full import in this process and return its figures."""
    from core.db import make_engine
    from core.importer import FULL, apply_import, preview_import
    from core.permissions import Actor
    from core.siigo.client import SiigoClient

    actor = Actor(BENCH_ACTOR_NAME, "editor")
    engine = make_engine(database_url)
    client = SiigoClient(base_url=base_url, username="sandbox@example.com",
                         access_key="sandbox-key", partner_id="AliadosBench",
                         requests_per_minute=rpm)
    started = time.perf_counter()
    preview = preview_import(engine, client, mode=FULL, actor=actor)
    fetched = time.perf_counter()
    run = apply_import(engine, preview, actor=actor)
    done = time.perf_counter()
    return {
        "fetched": preview.fetched, "created": run.created, "requests": client.stats.requests,
        "retries": client.stats.retries, "fetch_s": fetched - started,
        "apply_s": done - fetched, "total_s": done - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def bench_import(sizes: list[int], rpm: int = 0) -> None:
    for n in sizes:
        proc, base_url = _start_sandbox(n, rpm)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                db = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
                out = subprocess.run(
                    [sys.executable, __file__, "_child", base_url, db, str(rpm)],
                    cwd=ROOT, capture_output=True, text=True, check=True,
                )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        minimum = math.ceil(n / PAGE_SIZE) + 1
        line = (
            f"import {n:>7,} terceros: {figures['total_s']:6.1f} s "
            f"({figures['fetched'] / figures['total_s']:8,.0f} terceros/s; "
            f"fetch {figures['fetch_s']:.1f} s, apply {figures['apply_s']:.1f} s), "
            f"requests {figures['requests']} vs minimum {minimum} "
            f"(+{figures['retries']} retries), peak RSS {figures['peak_rss_mb']:.0f} MB"
        )
        if rpm:
            bound = math.floor((figures["requests"] - 1) / rpm) * 60
            line += f", wall {figures['total_s']:.1f} s vs bound {bound} s at {rpm}/min"
        print(line, flush=True)


def bench_views(count: int = 20_000, repeats: int = 7) -> None:
    from core.allies import AllyFilters, view_rows
    from core.db import make_engine
    from core.importer import FULL, apply_import, preview_import
    from core.permissions import Actor
    from core.siigo.client import SiigoClient

    actor = Actor(BENCH_ACTOR_NAME, "editor")
    proc, base_url = _start_sandbox(count)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'views.sqlite'}")
            client = SiigoClient(base_url=base_url, username="sandbox@example.com",
                                 access_key="sandbox-key", partner_id="AliadosBench",
                                 requests_per_minute=0)
            preview = preview_import(engine, client, mode=FULL, actor=actor)
            apply_import(engine, preview, actor=actor)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        for label, filters in (("no filter", AllyFilters()),
                               ("text filter 'maria'", AllyFilters(search="maria")),
                               ("type + status", AllyFilters(ally_type="cliente",
                                                             status="activo"))):
            times, rows = [], 0
            for _ in range(repeats):
                started = time.perf_counter()
                rows = len(view_rows(engine, filters))
                times.append(time.perf_counter() - started)
            print(f"view of {count:,} allies, {label}: median {statistics.median(times):.3f} s "
                  f"(min {min(times):.3f}, max {max(times):.3f}) -> {rows:,} rows", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        print(json.dumps(_child_import(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("views", "import", "all"))
    parser.add_argument("--limited", action="store_true",
                        help="sandbox and client at 100 requests per minute")
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    os.environ.pop("DATABASE_URL", None)
    if args.what in ("views", "all"):
        bench_views()
    if args.what in ("import", "all"):
        sizes = [int(s) for s in args.sizes.split(",")]
        if args.limited:
            bench_import([12_000], rpm=100)
        else:
            bench_import(sizes)


if __name__ == "__main__":
    main()
