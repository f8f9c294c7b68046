from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Product, Supplier
from tests.catalog.test_import_files import code, csv_bytes, row, xlsx_bytes
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def run(path, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_catalog", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_with_bad_rows_exits_non_zero_listing_every_one_and_writes_nothing(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes([row(1), row(2, price="-1"), row(3), ["6.90123E+12"] + row(4)[1:]], encoding="gbk"))
    out = StringIO()
    with pytest.raises(CommandError, match="2 of 4 rows are invalid"):
        call_command("import_catalog", str(path), stdout=out, stderr=StringIO())
    lines = [line for line in out.getvalue().splitlines() if line.startswith("Error")]
    assert lines[0].startswith("Error in row 3, column 售价:") and "negative" in lines[0]
    assert lines[1].startswith("Error in row 5, column 条码:") and "scientific notation" in lines[1]
    assert len(lines) == 2
    assert Product.objects.count() == 0


def test_dry_run_shows_changes_and_writes_nothing(tmp_path):
    product = ProductFactory(barcode=code(1), selling_price=Decimal("3.00"))
    path = tmp_path / "prices.xlsx"
    path.write_bytes(xlsx_bytes([[code(1), product.name, product.category.name, "3.20", "3.80", "", "", ""], row(2)]))
    out, _err = run(path, "--dry-run", "--verbosity", "2")
    assert f"row 2 {code(1)} selling_price: '3' -> '3.8'" in out
    assert "1 new, 1 updated, 0 unchanged." in out and "Dry run: nothing was written." in out
    product.refresh_from_db()
    assert product.selling_price == Decimal("3.00") and Product.objects.count() == 1


def test_command_imports_with_supplier_and_user_and_prints_progress(tmp_path, django_user_model):
    buyer = django_user_model.objects.create_user("buyer")
    path = tmp_path / "catalog.csv"
    path.write_bytes(csv_bytes([row(n, supplier="") for n in range(1, 2501)]))
    out, err = run(path, "--supplier", "可口可乐", "--user", "buyer")
    assert "New supplier: 可口可乐" in out and "2500 new, 0 updated, 0 unchanged." in out
    assert "checking: 2000/2500 rows" in err and "creating: 2500/2500 rows" in err
    product = Product.objects.get(barcode=code(7))
    assert product.supplier.name == "可口可乐" and product.history.get().history_user == buyer
    again, _err = run(path, "--supplier", "可口可乐")
    assert "Nothing to change: all 2500 rows already match the catalog." in again


def test_command_refuses_unknown_user_and_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run(tmp_path / "missing.csv")
    path = tmp_path / "ok.csv"
    path.write_bytes(csv_bytes([row(1)]))
    with pytest.raises(CommandError, match="No user nobody"):
        run(path, "--user", "nobody")
    assert Product.objects.count() == 0


@pytest.mark.parametrize("dry_run", [["--dry-run"], []])
def test_supplier_option_longer_than_a_supplier_name_is_refused_before_anything_is_written(tmp_path, dry_run):
    path = tmp_path / "catalog.csv"
    path.write_bytes(csv_bytes([row(1, supplier="")]))
    with pytest.raises(CommandError, match="--supplier: Supplier is longer than 200 characters."):
        run(path, "--supplier", "太" * 201, *dry_run)
    assert not Product.objects.exists() and not Supplier.objects.exists()
