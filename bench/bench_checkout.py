"""Checkout benchmark: server time of a till scan (the HTMX basket fragment), of a 5-line sale, and of closing
a shift of 5,000 sales with its Z-report, against the 2,000-product demo catalog on PostgreSQL.

    createdb -h 127.0.0.1 -U postgres sm_bench_checkout
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sm_bench_checkout SECRET_KEY=x \\
        .venv/bin/python bench/bench_checkout.py [--scans 2000] [--sales 500] [--shift-sales 5000] [--seed 3]
        [--scans-only | --sales-only]

The database is migrated and seeded with `seed_demo` (2,000 products, 180 days) if it has no products. Requests
go through Django's full handler and middleware in this process (django.test.Client), so the figures are server
time without the network; the PostgreSQL backend's CPU per sale is read from /proc when the server runs on
this machine. Targets (the baseline the ratios are against): scan median <= 15 ms and p99 <= 50 ms,
5-line sale median <= 40 ms, closing a 5,000-sale shift with its Z-report < 5 s.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from contextlib import nullcontext
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supermarket.settings")
# One JSON log line per request would flood the terminal; the logging itself is not what is measured here.
os.environ.setdefault("REQUEST_LOG_LEVEL", "WARNING")
import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.cpu import backend_cpu  # noqa: E402
from bench.db import vacuum_analyze  # noqa: E402
from catalog.demo import seed_demo  # noqa: E402
from catalog.models import Product  # noqa: E402
from checkout.models import Cart, Register, Shift  # noqa: E402
from checkout.pricing import LineInput, PaymentInput  # noqa: E402
from checkout.services import api_token_for, sale_complete, shift_close, shift_open  # noqa: E402
from stock.models import Location, MovementKind  # noqa: E402
from stock.services import Move, stock_move_batch  # noqa: E402

TARGETS = {"scan median": 15.0, "scan p99": 50.0, "sale median": 40.0, "shift close + Z-report": 5000.0}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def close(shift: Shift, user) -> None:
    """Close the bench register's shift; the scans' last basket is dropped first (a shift does not close on a sale
    in progress)."""
    Cart.objects.filter(register=shift.register).delete()
    shift_close(shift=shift, counted_cash=Decimal(0), user=user)


def prepare(seed: int) -> tuple[Register, list[Product], object]:
    call_command("migrate", verbosity=0, skip_checks=True)
    if not Product.objects.exists():
        started = time.perf_counter()
        seed_demo(products=2000, days=180, seed=1)
        print(f"seeded the demo catalog in {time.perf_counter() - started:.1f} s")
    # A superuser passes any role rule, so the figures do not depend on how roles are set up.
    user, _ = get_user_model().objects.update_or_create(username="bench-cashier", defaults={"is_superuser": True})
    floor = Location.default()
    register, _ = Register.objects.get_or_create(code="B01", defaults={"name": "Bench", "location": floor})
    for open_shift in Shift.objects.filter(register=register, closed_at__isnull=True):
        close(open_shift, user)
    products = list(Product.objects.filter(active=True, unit="each").order_by("pk"))
    random.Random(seed).shuffle(products)
    products = products[:400]
    # Enough stock that no benchmark sale is refused; a receipt like any delivery, through the stock service.
    stock_move_batch(moves=[Move(p, floor, Decimal(100_000)) for p in products], kind=MovementKind.RECEIPT)
    vacuum_analyze()
    return register, products, user


def till_client(user, register: Register) -> Client:
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    client.post("/checkout/register/", {"register": register.pk})
    return client


class QueryCounter:
    """Counts the statements sent to the database: as cheap as the request log's own count, so every timed scan
    is counted (CaptureQueriesContext keeps each statement's text and time, which slows the request down)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def bench_scans(client: Client, products: list[Product], n: int, rng: random.Random):
    timings, cpu, queries = [], [], []
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        for i in range(n + 50):
            if i % 20 == 0:
                client.post("/checkout/cancel/", HTTP_HX_REQUEST="true")  # a new basket every 20 scans, not timed
            code = rng.choice(products).barcode
            counted = counter.count
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.post("/checkout/scan/", {"code": code}, HTTP_HX_REQUEST="true")
            elapsed = (time.perf_counter() - started) * 1000
            cpu_ms = (time.process_time() - cpu_started) * 1000
            assert response.status_code == 200, response.content[:300]
            if i >= 50:  # the first 50 warm up connections and caches
                timings.append(elapsed)
                cpu.append(cpu_ms)
                if i % 20:  # a scan that is not the first of its basket
                    queries.append(counter.count - counted)
    client.post("/checkout/cancel/", HTTP_HX_REQUEST="true")
    return timings, cpu, queries


def sale_body(register: Register, products: list[Product], rng: random.Random) -> dict:
    lines = [{"code": p.barcode, "quantity": str(rng.randint(1, 3))} for p in rng.sample(products, 5)]
    by_code = {p.barcode: p for p in products}
    total = sum(by_code[line["code"]].selling_price * Decimal(line["quantity"]) for line in lines)
    return {
        "client_token": str(uuid.uuid4()),
        "register": register.code,
        "lines": lines,
        "payments": [{"method": "cash", "amount": str(total + Decimal("0.50"))}],
    }


def bench_sales(user, register: Register, products: list[Product], n: int, rng: random.Random):
    """Timings and web CPU of each sale after 20 warming up, the most statements one sent, and the PostgreSQL
    backend's CPU per sale (None if it runs elsewhere)."""
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {api_token_for(user).key}")
    timings, cpu, queries = [], [], 0
    backend_started = None
    for i in range(n + 20):
        if i == 20:
            backend_started = backend_cpu()
        body = json.dumps(sale_body(register, products, rng))
        with CaptureQueriesContext(connection) if i < 20 else nullcontext() as captured:
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.post("/api/sales", data=body, content_type="application/json")
            elapsed = (time.perf_counter() - started) * 1000
            cpu_ms = (time.process_time() - cpu_started) * 1000
        assert response.status_code == 201, response.content[:300]
        if i >= 20:
            timings.append(elapsed)
            cpu.append(cpu_ms)
        else:
            queries = max(queries, len(captured))
    backend_ended = backend_cpu()
    # Only the same backend's two readings: a connection made afresh meanwhile (CONN_MAX_AGE) is another process.
    same = backend_started is not None and backend_ended is not None and backend_started[0] == backend_ended[0]
    backend = (backend_ended[1] - backend_started[1]) / n if same else None
    return timings, cpu, queries, backend


def sales_summary(sales: list[float], cpu: list[float], queries: int, backend: float | None) -> str:
    return (
        f"{len(sales)}, median {statistics.median(sales):.1f} ms, p99 {percentile(sales, 99):.1f} ms, max queries per "
        f"sale {queries}, web process CPU (process_time) median {statistics.median(cpu):.2f} ms, PostgreSQL backend "
        + (
            "not measured (not a process of this machine, or replaced)"
            if backend is None
            else f"{backend * 1000:.2f} ms CPU per sale"
        )
        + f"; load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )


def fill_shift(user, register: Register, products: list[Product], shift: Shift, target: int, rng: random.Random):
    """Complete sales through the service until the shift holds `target` sales; returns the service timings."""
    timings = []
    while (missing := target - Shift.objects.get(pk=shift.pk).sales.count()) > 0:
        for _ in range(min(missing, 500)):
            items = rng.sample(products, 5)
            lines = [LineInput(product=p, quantity=Decimal(rng.randint(1, 3))) for p in items]
            total = sum(line.product.selling_price * line.quantity for line in lines)
            method = rng.choice(["cash", "card", "wechat", "alipay"])
            amount = total + (Decimal(5) if method == "cash" else 0)
            started = time.perf_counter()
            sale_complete(
                client_token=uuid.uuid4(),
                register=register,
                lines=lines,
                payments=[PaymentInput(method, amount, "" if method in ("cash", "card") else "REF")],
                user=user,
            )
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=2000)
    parser.add_argument("--sales", type=int, default=500)
    parser.add_argument("--shift-sales", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=3)
    only = parser.add_mutually_exclusive_group()
    only.add_argument(
        "--scans-only", action="store_true", help="time the scans only (quick, e.g. to compare two trees in turn)"
    )
    only.add_argument("--sales-only", action="store_true", help="time the API sales only (likewise)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    register, products, user = prepare(args.seed)
    shift = shift_open(register=register, opening_float=Decimal("500"), user=user)
    print(f"catalog: {Product.objects.count()} products; machine: {os.cpu_count()} cores; {connection.vendor}")
    print(f"load average at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")

    if args.sales_only:
        sales, sale_cpu, sale_queries, backend = bench_sales(user, register, products, args.sales, rng)
        close(shift, user)
        print(f"5-line API sales: {sales_summary(sales, sale_cpu, sale_queries, backend)}")
        return
    scans, scan_cpu, scan_queries = bench_scans(till_client(user, register), products, args.scans, rng)
    if args.scans_only:
        close(shift, user)
        print(
            f"scans: {len(scans)}, median {statistics.median(scans):.1f} ms, p99 {percentile(scans, 99):.1f} ms, "
            f"queries median {statistics.median(scan_queries):.0f}, max {max(scan_queries)}, CPU (process_time) p25 "
            f"{statistics.quantiles(scan_cpu, n=4)[0]:.1f} ms, median {statistics.median(scan_cpu):.1f} ms; "
            f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
        return
    sales, sale_cpu, sale_queries, backend = bench_sales(user, register, products, args.sales, rng)
    started = time.perf_counter()
    service = fill_shift(user, register, products, shift, args.shift_sales, rng)
    fill_seconds = time.perf_counter() - started

    client = till_client(user, register)
    Cart.objects.filter(register=register).delete()  # the scans' last basket: a shift does not close on it
    started = time.perf_counter()
    response = client.post("/checkout/shift/close/", {"shift": shift.pk, "counted_cash": "1000.00"})
    report = client.get(response.url)
    close_ms = (time.perf_counter() - started) * 1000
    assert report.status_code == 200 and b"expected-cash" in report.content
    sale_count = Shift.objects.get(pk=shift.pk).sales.count()

    rows = [
        ("scan median", statistics.median(scans)),
        ("scan p99", percentile(scans, 99)),
        ("sale median", statistics.median(sales)),
        ("shift close + Z-report", close_ms),
    ]
    print(f"\n{'figure':28} {'ms':>9} {'target':>8} {'ratio':>6}")
    for name, value in rows:
        print(f"{name:28} {value:9.1f} {TARGETS[name]:8.0f} {value / TARGETS[name]:6.2f}")
    print(
        f"\nscans: {len(scans)}, p90 {percentile(scans, 90):.1f} ms, queries per scan: median "
        f"{statistics.median(scan_queries):.0f}, max {max(scan_queries)} (a product's first scan in the process also "
        f"looks it up; timed scans after a basket's first), web process CPU (process_time) median {statistics.median(scan_cpu):.1f} ms, "
        f"p99 {percentile(scan_cpu, 99):.1f} ms"
    )
    print(f"5-line API sales: {sales_summary(sales, sale_cpu, sale_queries, backend)}")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if service:
        print(
            f"service sale_complete (5 lines, one at a time): {len(service)} sales, median "
            f"{statistics.median(service):.1f} ms, p99 {percentile(service, 99):.1f} ms, "
            f"{len(service) / fill_seconds:.0f} sales/s sequential"
        )
    print(f"shift closed with {sale_count} sales: close and Z-report page in {close_ms:.0f} ms")


if __name__ == "__main__":
    main()
