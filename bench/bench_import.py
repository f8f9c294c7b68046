"""Catalog import at scale: 100,000 rows in at most 60 s and 512 MB peak RSS, history included.

Generates a supplier CSV (Chinese headers, GBK, 40 categories, 12 suppliers,
every tenth row with a pack barcode), then runs `manage.py import_catalog` in a
child process three times against the configured database:

  create     every row is a new product
  update     the same file with every purchase and selling price changed
  unchanged  the updated file again: nothing to write
  xlsx update  the first prices again, from an .xlsx workbook

and prints wall time and peak RSS of each run, with the ratio against the
target (60 s / 512 MB) and against the baseline: django-import-export's own
per-row import (ProductResource, its default path) timed on --baseline-rows
rows and scaled to the full file.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sm_import SECRET_KEY=x \
        .venv/bin/python bench/bench_import.py [--rows 100000] [--baseline-rows 2000]

It deletes the products it created before (barcodes 691...) so it can be rerun.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supermarket.settings")

TARGET_SECONDS = 60
TARGET_MB = 512
PREFIX = "691"


def barcode(n: int) -> str:
    from catalog import gtin

    return gtin.with_check_digit(f"{PREFIX}{n:09d}")


def write_file(path: Path, rows: int, price_shift: int) -> None:
    """The CSV as Chinese Excel saves it (GBK); a .xlsx path gets the same cells in a workbook."""
    units = ["瓶", "袋", "盒", "件", "kg", "斤"]
    lines = ["条码,商品名称,类别,进价,售价,供应商,安全库存,单位,箱码,箱规"]
    for n in range(rows):
        cost = 100 + (n % 900) + price_shift
        pack = f"{barcode(500_000_000 + n)},12" if n % 10 == 0 else ","
        lines.append(
            f"{barcode(n)},基准商品{n},基准类别{n % 40},{cost / 100:.2f},{cost * 1.3 / 100:.2f},"
            f"基准供应商{n % 12},{n % 50},{units[n % len(units)]},{pack}"
        )
    if path.suffix == ".xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet()
        for line in lines:
            sheet.append(line.split(","))
        workbook.save(path)
    else:
        path.write_bytes(("\n".join(lines) + "\n").encode("gbk"))


def run_import(path: Path) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MB) of a fresh process running the command, and its last line."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"import failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    lines = result.stdout.strip().splitlines()
    return seconds, float(lines[-1]), lines[-2]


def child(path: str) -> None:
    """Run in its own process so that its peak RSS is the import's alone."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("import_catalog", path, verbosity=0)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def clean() -> None:
    import django

    django.setup()
    from catalog.models import Category, Product, ProductBarcode, Supplier

    ProductBarcode.objects.filter(product__barcode__startswith=PREFIX).delete()
    Product.history.filter(barcode__startswith=PREFIX).delete()
    ProductBarcode.history.filter(barcode__startswith=str(barcode(500_000_000))[:4]).delete()
    Product.objects.filter(barcode__startswith=PREFIX).delete()
    Category.objects.filter(name__startswith="基准类别").delete()
    Supplier.objects.filter(name__startswith="基准供应商").delete()


def baseline_seconds_per_row(rows: int) -> float:
    """django-import-export's default per-row import of the same columns, on a small file."""
    import tablib
    from django.db import transaction

    from catalog.models import Category, Supplier
    from catalog.resources import ProductResource

    category = Category.objects.create(name="基准类别-baseline")
    supplier = Supplier.objects.create(name="基准供应商-baseline")
    data = tablib.Dataset(
        headers=["barcode", "name", "category", "supplier", "purchase_price", "selling_price", "unit"]
    )
    for n in range(rows):
        data.append([barcode(900_000_000 + n), f"基准商品{n}", category.name, supplier.name, "1.00", "1.30", "each"])
    start = time.perf_counter()
    with transaction.atomic():
        result = ProductResource().import_data(data, dry_run=False, use_transactions=False)
        seconds = time.perf_counter() - start
        assert not result.has_errors() and not result.has_validation_errors(), "baseline import failed"
        transaction.set_rollback(True)  # leave nothing behind
    category.delete()
    supplier.delete()
    return seconds / rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--baseline-rows", type=int, default=2_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    clean()
    per_row = baseline_seconds_per_row(args.baseline_rows)
    baseline = per_row * args.rows
    print(f"machine: {os.cpu_count()} cores; rows: {args.rows}")
    print(
        f"baseline django-import-export per-row import: {1 / per_row:.0f} rows/s -> {baseline:.0f} s for {args.rows} rows"
    )
    with tempfile.TemporaryDirectory() as tmp:
        first, second = Path(tmp, "catalog.csv"), Path(tmp, "catalog-prices.csv")
        workbook = Path(tmp, "catalog.xlsx")  # the first prices again, as a workbook
        start = time.perf_counter()
        write_file(first, args.rows, 0)
        write_file(second, args.rows, 7)
        write_file(workbook, args.rows, 0)
        print(
            f"generated 2 CSV files of {first.stat().st_size / 1e6:.1f} MB and an XLSX of "
            f"{workbook.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - start:.1f} s"
        )
        runs = (("create", first), ("update", second), ("unchanged", second), ("xlsx update", workbook))
        for label, path in runs:
            seconds, mb, message = run_import(path)
            print(
                f"{label:>11}: {seconds:6.1f} s ({seconds / TARGET_SECONDS:.2f} of target {TARGET_SECONDS} s, "
                f"{baseline / seconds:.0f}x faster than baseline), peak RSS {mb:.0f} MB "
                f"({mb / TARGET_MB:.2f} of {TARGET_MB} MB)  | {message}"
            )


if __name__ == "__main__":
    main()
