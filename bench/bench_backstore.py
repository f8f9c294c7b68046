"""Back-store benchmark: posting a large receipt and a large stocktake, counting latency, and
the replenishment list, against a per-line baseline (one stock_move and one transaction per line).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sm_backstore SECRET_KEY=x \
        .venv/bin/python bench/bench_backstore.py [--lines 500] [--count-lines 2000] [--scans 300]

Creates its own products (a fresh barcode range each run) in the database it is pointed at,
after migrating it; run it against a scratch database.
"""

import argparse
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supermarket.settings")
import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.db import vacuum_analyze  # noqa: E402
from catalog import gtin  # noqa: E402
from catalog.models import Category, Product, Supplier  # noqa: E402
from stock.models import Location, MovementKind, ReceiptLine, ReplenishmentSuggestion  # noqa: E402
from stock.purchasing import OrderLine, purchase_order_create, purchase_order_send  # noqa: E402
from stock.receiving import receipt_line_update, receipt_post, receipt_start  # noqa: E402
from stock.replenishment import open_suggestions, suggestion_rows  # noqa: E402
from stock.services import Move, stock_move, stock_move_batch  # noqa: E402
from stock.stocktake import count_add, count_post, count_session_start  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def make_products(n: int, run: int, supplier: Supplier, category: Category) -> list[Product]:
    return Product.objects.bulk_create(
        Product(
            barcode=gtin.with_check_digit(f"69{run:03d}{i:07d}"),
            name=f"基准商品 {run}-{i}",
            category=category,
            supplier=supplier,
            purchase_price=Decimal("3.0000"),
            selling_price=Decimal("5.00"),
            safety_stock=Decimal(20),
        )
        for i in range(n)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=500, help="lines of the receipt")
    parser.add_argument("--count-lines", type=int, default=2000, help="lines of the stocktake")
    parser.add_argument("--scans", type=int, default=300, help="scans timed on the counting service")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    run = random.randrange(1000)
    floor = Location.default()
    supplier = Supplier.objects.create(name=f"基准供应商 {run}-{time.time_ns()}")
    category = Category.objects.create(name=f"基准 {run}-{time.time_ns()}")
    n = max(args.lines, args.count_lines)
    products = make_products(2 * n, run, supplier, category)
    ours, baseline_products = products[:n], products[n:]
    vacuum_analyze()
    print(f"machine: {os.cpu_count()} cores, database {connection.vendor}, run {run}")

    # Receipt of a purchase order with `lines` lines: one posting vs one stock_move per line.
    order = purchase_order_send(
        order=purchase_order_create(
            supplier=supplier, location=floor, lines=[OrderLine(p, Decimal(24)) for p in ours[: args.lines]]
        )
    )
    receipt = receipt_start(order=order)
    ReceiptLine.objects.bulk_create(
        ReceiptLine(receipt=receipt, product=p, quantity=Decimal(24), unit_cost=Decimal("3.5000"))
        for p in ours[: args.lines]
    )
    receipt_line_update(line=receipt.lines.first(), quantity=Decimal(24))
    posting, _ = timed(lambda: receipt_post(receipt=receipt))
    base, _ = timed(
        lambda: [
            stock_move(product=p, location=floor, quantity=Decimal(24), kind=MovementKind.RECEIPT)
            for p in baseline_products[: args.lines]
        ]
    )
    print(
        f"receipt of {args.lines} lines: {posting:.2f} s posted (stock, order lines, moving average cost with history)"
    )
    print(f"  baseline one stock_move per line: {base:.2f} s; ratio {posting / base:.2f}")

    # Stocktake: `count-lines` counted lines, posted at once vs one adjustment per line.
    stock_move_batch(moves=[Move(p, floor, Decimal(24)) for p in ours[args.lines :]], kind=MovementKind.RECEIPT)
    stock_move_batch(
        moves=[Move(p, floor, Decimal(24)) for p in baseline_products[args.lines :]], kind=MovementKind.RECEIPT
    )
    session = count_session_start(location=floor)
    latencies = []
    for i, product in enumerate(ours[: args.count_lines]):
        start = time.perf_counter()
        count_add(session=session, code=product.barcode, quantity=Decimal(20 + i % 7))
        if i < args.scans:
            latencies.append(time.perf_counter() - start)
    latencies.sort()
    print(
        f"counting (count_add, first scan of a product, ledger position read): median "
        f"{statistics.median(latencies) * 1000:.1f} ms, p95 {latencies[int(len(latencies) * 0.95)] * 1000:.1f} ms "
        f"over {len(latencies)} scans"
    )
    posting, _ = timed(lambda: count_post(session=session))
    base, _ = timed(
        lambda: [
            stock_move(
                product=p,
                location=floor,
                quantity=Decimal(-(4 - i % 7)) or Decimal(1),
                kind="stocktake",
                allow_negative=True,
            )
            for i, p in enumerate(baseline_products[: args.count_lines])
        ]
    )
    print(f"stocktake posting of {args.count_lines} lines: {posting:.2f} s")
    print(f"  baseline one stock_move per line: {base:.2f} s; ratio {posting / base:.2f}")

    # Replenishment list: sell everything below safety stock, then build the rows.
    stock_move_batch(moves=[Move(p, floor, Decimal(-20)) for p in ours[: args.lines]], kind=MovementKind.SALE)
    suggestions = open_suggestions().filter(product__supplier=supplier)
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        listing, rows = timed(lambda: suggestion_rows(suggestions))
    print(f"replenishment rows for {len(rows)} suggestions: {listing:.2f} s, {len(queries)} queries")
    ReplenishmentSuggestion.objects.filter(product__supplier=supplier).update(status="dismissed")


if __name__ == "__main__":
    main()
