"""Nightly forecast batch: 5,000 products through the 'forecasts' queue with two RQ workers.

Target: all 5,000 in at most 5 minutes on this 2-core machine. Uses a database
of its own seeded with the unchanged demo generator (5,000 products, 365 days)
and the Redis database given by REDIS_URL. Runs two nights: the first searches
every ARIMA order, the second refits the stored orders (what most nights do).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sm_bench_forecast REDIS_URL=redis://127.0.0.1:6379/7 \
        SECRET_KEY=x .venv/bin/python bench/bench_forecast.py [--products 5000] [--workers 2]
"""

import argparse
import os
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

from catalog.models import Product  # noqa: E402
from reports.models import Forecast, JobRun, SalesDaily  # noqa: E402
from reports.services import forecast_batch_start  # noqa: E402
from stock.models import Location  # noqa: E402

TARGET_SECONDS = 300


def night(label: str, history_end: date, workers: int, chunk_size: int) -> float:
    import django_rq

    django_rq.get_queue("forecasts").empty()
    started = time.perf_counter()
    batch = forecast_batch_start(location=Location.default(), history_end=history_end, chunk_size=chunk_size)
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "forecasts", "--burst"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.wait()
    elapsed = time.perf_counter() - started
    batch.refresh_from_db()
    methods = Counter(Forecast.objects.filter(made_at__gte=batch.created_at).values_list("method", flat=True))
    print(
        f"{label}: {batch.done} of {batch.total} products, {workers} workers, {batch.parts.count()} jobs: {elapsed:.1f} s, "
        f"{batch.done / elapsed:.1f} products/s, status {batch.status}  (target <= {TARGET_SECONDS} s)"
    )
    print(f"  methods: {dict(sorted(methods.items()))}")
    if batch.status != JobRun.Status.DONE:
        print(f"  error: {batch.error}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=100)
    args = parser.parse_args()
    if settings.JOBS_INLINE:
        sys.exit("this bench needs REDIS_URL: the batch runs on RQ workers")
    call_command("migrate", verbosity=0, skip_checks=True)
    if Product.objects.count() != args.products:
        if Product.objects.exists():
            sys.exit("the bench database holds another catalog; drop it and run again")
        print(f"seeding the demo store: {args.products} products, {args.days} days ...", flush=True)
        call_command("seed_demo", products=args.products, days=args.days, skip_checks=True)
    history_end = SalesDaily.objects.order_by("-day").values_list("day", flat=True).first() - timedelta(days=1)
    Forecast.objects.all().delete()
    print(f"{os.cpu_count()} CPUs; history {args.days} days to {history_end}")
    first = night("night 1 (order search)", history_end, args.workers, args.chunk_size)
    second = night("night 2 (stored orders refitted)", history_end, args.workers, args.chunk_size)
    print(f"worst night: {max(first, second):.1f} s for {args.products} products (target <= {TARGET_SECONDS} s)")


if __name__ == "__main__":
    main()
