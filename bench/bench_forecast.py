"""Nightly forecast batch end to end: 5,000 products through the 'forecasts' queue, drained by two real
`manage.py rqworker forecasts` processes that this script starts and stops.

Target: all 5,000 products in at most 5 minutes on this 2-core machine. Uses a database of its own,
seeded once with the unchanged demo generator (`seed_demo`, fixed seed: a heavy-tailed base rate that
leaves most products slow or intermittent, weekly seasonality, promotions, trend; nothing tuned to the
forecasts), and the Redis database given by REDIS_URL (use one nobody else uses: the queue is emptied).

Runs two consecutive nights, each timed from the enqueue to the last job finished (workers already
up and idle, as in production):
- night 1, cold: no stored forecasts, so every ARIMA series is fitted (and a seventh searched);
- night 2, the usual night: the next day's history, stored models reused where they still fit.
Prints wall time, products per second, the ratio to the target, the CPU time the worker processes
used (start-up included), the method mix and how ARIMA models were obtained, and the load average.

    psql -h 127.0.0.1 -U postgres -c "create database sm_bench_forecast"
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sm_bench_forecast REDIS_URL=redis://127.0.0.1:6379/7 \
        SECRET_KEY=x .venv/bin/python bench/bench_forecast.py [--products 5000] [--workers 2] [--chunk-size N]
"""

import argparse
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supermarket.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from catalog.models import Product  # noqa: E402
from reports.models import Forecast, ForecastMethod, JobRun, SalesDaily  # noqa: E402
from reports.services import forecast_batch_start  # noqa: E402
from stock.models import Location  # noqa: E402

TARGET_SECONDS = 300


def load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def workers_start(count: int, queue) -> list[subprocess.Popen]:
    from rq import Worker

    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "forecasts"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    deadline = time.monotonic() + 120
    while len(Worker.all(queue=queue)) < count:
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            workers_stop(processes)
            sys.exit("the rq workers did not start")
        time.sleep(0.2)
    return processes


def workers_stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)  # warm shutdown: an idle worker leaves at once
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def night(label: str, history_end: date, workers: int, chunk_size: int | None) -> float:
    import django_rq

    queue = django_rq.get_queue("forecasts")
    queue.empty()
    before = {f.product_id: f.params for f in Forecast.objects.only("product_id", "params")}
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    processes = workers_start(workers, queue)
    load_before = load()
    started = time.perf_counter()
    kwargs = {"chunk_size": chunk_size} if chunk_size else {}
    batch = forecast_batch_start(location=Location.default(), history_end=history_end, **kwargs)
    idle_since = None
    while True:
        batch.refresh_from_db()
        if batch.finished or not all(p.poll() is None for p in processes):
            break
        # Jobs still queued in the database but none in Redis and none running: someone emptied the queue.
        lost = queue.count == 0 and not queue.started_job_registry.get_job_ids()
        idle_since = (idle_since or time.monotonic()) if lost else None
        if idle_since and time.monotonic() - idle_since > 30:
            workers_stop(processes)
            sys.exit(
                f"{label}: jobs left the queue unfinished ({batch.done} of {batch.total} done); is another run "
                "using this Redis database?"
            )
        time.sleep(0.25)
    elapsed = time.perf_counter() - started
    load_after = load()
    workers_stop(processes)
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)

    made = Forecast.objects.filter(history_end=history_end)
    methods = Counter(made.values_list("method", flat=True))
    fits = Counter()
    for product_id, params, searched_on in made.filter(method=ForecastMethod.ARIMA).values_list(
        "product_id", "params", "searched_on"
    ):
        if searched_on == history_end:
            fits["searched"] += 1
        elif before.get(product_id) == params:
            fits["reused (no fit)"] += 1
        else:
            fits["refitted"] += 1
    print(f"{label}, history to {history_end}:")
    print(
        f"  {batch.done} of {batch.total} products, status {batch.status}, {batch.parts.count()} jobs, "
        f"{workers} rqworker processes"
    )
    print(
        f"  wall {elapsed:.1f} s, {batch.done / elapsed:.1f} products/s, "
        f"{elapsed / TARGET_SECONDS:.2f} of the {TARGET_SECONDS} s target; "
        f"worker CPU {cpu:.1f} s ({1000 * cpu / max(batch.done, 1):.1f} ms per product, start-up included)"
    )
    print(f"  methods: {dict(methods.most_common())}; ARIMA models: {dict(fits.most_common())}")
    print(f"  load average (1/5/15 min) before {load_before}, after {load_after}")
    if batch.status != JobRun.Status.DONE:
        print(f"  error: {batch.error}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, help="products per job (default: the batch's own default)")
    args = parser.parse_args()
    if settings.JOBS_INLINE:
        sys.exit("this bench needs REDIS_URL: the batch runs on RQ workers")
    call_command("migrate", verbosity=0, skip_checks=True)
    if Product.objects.count() != args.products:
        if Product.objects.exists():
            sys.exit("the bench database holds another catalog; drop it and run again")
        print(f"seeding the demo store: {args.products} products, {args.days} days, seed {args.seed} ...", flush=True)
        call_command("seed_demo", products=args.products, days=args.days, seed=args.seed, skip_checks=True)
    # Two nights ending on the last whole day of sales (today, still selling, is not a whole day).
    last_full_day = min(
        SalesDaily.objects.order_by("-day").values_list("day", flat=True).first(),
        timezone.localdate() - timedelta(days=1),
    )
    Forecast.objects.all().delete()
    print(
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), Python {platform.python_version()}; "
        f"{Product.objects.filter(active=True).count()} active products, {args.days} days of history; "
        f"load average {load()}"
    )
    first = night("night 1 (cold: no stored models)", last_full_day - timedelta(days=1), args.workers, args.chunk_size)
    second = night("night 2 (stored models reused while they fit)", last_full_day, args.workers, args.chunk_size)
    worst = max(first, second)
    print(
        f"worst night: {worst:.1f} s for {args.products} products, {args.products / worst:.1f} products/s, "
        f"{worst / TARGET_SECONDS:.2f} of the {TARGET_SECONDS} s target"
    )


if __name__ == "__main__":
    main()
