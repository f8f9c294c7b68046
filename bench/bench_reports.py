"""Sales by category over a year: the rollup report against the same GROUP BY over raw sale lines.

Generates 10 million sale lines over 365 days for 5,000 products in a dedicated
PostgreSQL database with generate_series (not the ORM), builds the daily product
rollup and the category rollup from them, then times:
  - the 365-day sales-by-category report end to end (reports.selectors through
    the ORM to the finished rows, shares and margins included): target <= 100 ms;
  - the same GROUP BY over the raw lines: the rollup must win by >= 20x.
The raw lines live in a table shaped like sale lines (bench_sale_line: product,
location, sold day, quantity, amount, cost) so the bench does not depend on
the checkout tables.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sm_bench_reports SECRET_KEY=x \
        .venv/bin/python bench/bench_reports.py [--lines 10000000] [--regenerate]
"""

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from importlib import import_module
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supermarket.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from reports import selectors  # noqa: E402

CATEGORY_BACKFILL = import_module("reports.migrations.0003_category_rollup").BACKFILL

END = date(2026, 11, 23)
START = END - timedelta(days=364)
PRODUCTS = 5000
CATEGORIES = 20

RAW_GROUP_BY = """
    SELECT p.category_id, c.name, sum(l.quantity), sum(l.amount), sum(l.cost)
    FROM bench_sale_line l JOIN catalog_product p ON p.id = l.product_id JOIN catalog_category c ON c.id = p.category_id
    WHERE l.day BETWEEN %s AND %s
    GROUP BY p.category_id, c.name
"""


def generate(lines: int) -> None:
    with connection.cursor() as cursor:
        print(f"generating {lines:,} sale lines ...", flush=True)
        started = time.perf_counter()
        cursor.execute("TRUNCATE reports_salesdaily, catalog_product, catalog_category RESTART IDENTITY CASCADE")
        cursor.execute("DROP TABLE IF EXISTS bench_sale_line")
        cursor.execute(
            """INSERT INTO catalog_category (id, name, name_en, parent_id)
               OVERRIDING SYSTEM VALUE
               SELECT g, '类别' || g, 'Category ' || g, NULL FROM generate_series(1, %s) g""",
            [CATEGORIES],
        )
        cursor.execute(
            """INSERT INTO catalog_product (id, barcode, name, name_en, purchase_price, selling_price, tax_rate, unit,
                   safety_stock, lot_tracked, active, created_at, updated_at, category_id)
               OVERRIDING SYSTEM VALUE
               SELECT g, lpad(g::text, 13, '0'), '商品' || g, 'Product ' || g, round((1 + g %% 37)::numeric * 0.73, 4),
                   round((1 + g %% 37)::numeric * 0.95, 2), 13, 'each', 0, false, true, now(), now(), 1 + g %% %s
               FROM generate_series(1, %s) g""",
            [CATEGORIES, PRODUCTS],
        )
        cursor.execute("SELECT id FROM stock_location WHERE is_default")
        location = cursor.fetchone()[0]
        cursor.execute(
            """CREATE UNLOGGED TABLE bench_sale_line (
                   id bigint, product_id bigint, location_id bigint, day date,
                   quantity numeric(12,3), amount numeric(12,2), cost numeric(14,4))"""
        )
        # Skewed popularity (a few fast movers, many slow ones), one to three units a line.
        cursor.execute(
            """INSERT INTO bench_sale_line
               SELECT g, s.product_id, %s, %s::date + (g %% 365), s.q, s.q * p.selling_price, s.q * p.purchase_price
               FROM generate_series(1, %s) g
               CROSS JOIN LATERAL (SELECT 1 + floor(power(random(), 2) * %s)::bigint + 0 * g AS product_id,
                                          (1 + floor(random() * 3))::numeric AS q) s
               JOIN catalog_product p ON p.id = s.product_id""",
            [location, START, lines, PRODUCTS],
        )
        # The category rollup trigger costs about a third of a millisecond a row: fine for a sale's few lines,
        # twenty minutes for 1.8 million. Load with it off, then fill the category rollup the way migration
        # 0003 does for existing rows.
        cursor.execute("ALTER TABLE reports_salesdaily DISABLE TRIGGER reports_sales_category_daily")
        cursor.execute(
            """INSERT INTO reports_salesdaily (product_id, location_id, day, quantity, amount, cost)
               SELECT product_id, location_id, day, sum(quantity), sum(amount), sum(cost)
               FROM bench_sale_line GROUP BY product_id, location_id, day"""
        )
        cursor.execute(CATEGORY_BACKFILL)
        cursor.execute("ALTER TABLE reports_salesdaily ENABLE TRIGGER reports_sales_category_daily")
        cursor.execute("ANALYZE")
        print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)


def timed(func, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def raw_group_by():
    with connection.cursor() as cursor:
        cursor.execute(RAW_GROUP_BY, [START, END])
        return cursor.fetchall()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("this bench needs DATABASE_URL pointing at a PostgreSQL database of its own")
    call_command("migrate", verbosity=0, skip_checks=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_sale_line') IS NOT NULL")
        exists = cursor.fetchone()[0]
        count = 0
        if exists:
            cursor.execute("SELECT count(*) FROM bench_sale_line")
            count = cursor.fetchone()[0]
    if args.regenerate or count != args.lines:
        generate(args.lines)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reports_salesdaily")
        rollup_rows = cursor.fetchone()[0]
    selectors.sales_by_category(start=START, end=END)  # warm the connection and caches like a running server
    raw_group_by()
    report_time, report = timed(lambda: selectors.sales_by_category(start=START, end=END), args.runs)
    raw_time, raw = timed(raw_group_by, max(3, args.runs // 2))
    by_category = {row.category_id: row for row in report.rows}
    agree = len(raw) == len(by_category) and all(
        by_category[cid].quantity == q and by_category[cid].amount == a for cid, _n, q, a, _c in raw
    )
    print(f"sale lines: {args.lines:,}  rollup rows: {rollup_rows:,}  products: {PRODUCTS:,}  days: 365")
    print(f"sales by category, 365 days, from rollups (end to end): {report_time * 1000:.1f} ms  (target <= 100 ms)")
    print(f"same GROUP BY over raw sale lines: {raw_time * 1000:.1f} ms")
    print(f"raw / rollup: {raw_time / report_time:.1f}x  (target >= 20x)")
    print(f"report equals the raw GROUP BY: {agree}")
    if not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
