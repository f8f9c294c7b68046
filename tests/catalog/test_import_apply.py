import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from catalog.imports.services import ImportRefused, catalog_import_apply, catalog_import_preview
from catalog.models import Category, Product, ProductBarcode, Supplier
from catalog.selectors import product_lookup
from catalog.services import product_update
from tests.catalog.test_import_files import CHINESE, code, csv_bytes, row
from tests.factories import CategoryFactory, ProductBarcodeFactory, ProductFactory, SupplierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def buyer(django_user_model):
    return django_user_model.objects.create_user("buyer", password="x")


def apply(data: bytes, user=None, **kwargs):
    return catalog_import_apply(data=data, filename="supplier.csv", user=user, **kwargs)


def catalog_state() -> list[tuple]:
    return list(
        Product.objects.order_by("barcode").values_list(
            "barcode", "name", "category_id", "supplier_id", "purchase_price", "selling_price", "safety_stock", "unit"
        )
    )


def history_count() -> int:
    return (
        Product.history.count() + Category.history.count() + Supplier.history.count() + ProductBarcode.history.count()
    )


def test_one_bad_row_in_ten_thousand_changes_nothing(buyer):
    existing = ProductFactory(barcode=code(5), selling_price=Decimal("1.00"))
    rows = [row(n, category=f"导入类别{n % 7}", supplier=f"导入供应商{n % 3}") for n in range(1, 10_001)]
    rows[7_776] = row(7_777, cost="-3.00")
    before, histories = catalog_state(), history_count()
    with pytest.raises(ImportRefused) as refused:
        apply(csv_bytes(rows), user=buyer)
    [error] = refused.value.plan.errors
    assert (error.row, error.column, error.value) == (7_778, "进价", "-3.00")
    assert catalog_state() == before and history_count() == histories
    assert not Category.objects.filter(name__startswith="导入类别").exists()
    assert not Supplier.objects.filter(name__startswith="导入供应商").exists()
    existing.refresh_from_db()
    assert existing.selling_price == Decimal("1.00")


def test_every_bad_row_is_listed_with_row_column_and_reason():
    rows = [row(1, price="abc"), row(2), ["6.9E+12"] + row(3)[1:], row(4, unit="桶"), row(2, name="又一次")]
    with pytest.raises(ImportRefused) as refused:
        apply(csv_bytes(rows))
    assert [(e.row, e.column) for e in refused.value.plan.errors] == [
        (2, "售价"),
        (4, "条码"),
        (5, "单位"),
        (6, "条码"),
    ]
    assert Product.objects.count() == 0


def test_apply_does_exactly_what_the_preview_showed(buyer):
    changed = ProductFactory(
        barcode=code(1), name="旧名", purchase_price=Decimal("2.00"), selling_price=Decimal("3.00")
    )
    same = ProductFactory(barcode=code(2), name="不变", purchase_price=Decimal("2.10"), selling_price=Decimal("3.50"))
    data = csv_bytes(
        [
            row(
                1,
                name="新名",
                category=changed.category.name,
                supplier=changed.supplier.name,
                cost="2.00",
                price="3.30",
                stock="0",
                unit="件",
            ),
            row(2, name="不变", category=same.category.name, supplier=same.supplier.name, stock="0", unit="件"),
            row(3, name="新商品", category="新类别", supplier="新供应商"),
        ]
    )
    preview = catalog_import_preview(data=data, filename="supplier.csv")
    assert (len(preview.created), len(preview.updated), preview.unchanged) == (1, 1, 1)
    assert preview.updated[0].changes == {"name": ("旧名", "新名"), "selling_price": ("3", "3.3")}
    assert preview.new_categories == [("新类别",)] and preview.new_suppliers == ["新供应商"]

    applied = apply(data, user=buyer, expected_fingerprint=preview.fingerprint)
    assert applied.fingerprint == preview.fingerprint
    changed.refresh_from_db()
    assert (changed.name, changed.selling_price, changed.purchase_price) == ("新名", Decimal("3.30"), Decimal("2.0000"))
    new = Product.objects.get(barcode=code(3))
    assert (new.category.name, new.supplier.name, new.selling_price) == ("新类别", "新供应商", Decimal("3.50"))
    assert same.history.count() == 1  # unchanged row: not written, no history row


def test_price_change_from_import_is_in_history_with_the_importing_user(buyer):
    product = ProductFactory(barcode=code(1), purchase_price=Decimal("2.00"), selling_price=Decimal("3.00"))
    apply(csv_bytes([row(1, name=product.name, category=product.category.name, cost="2.40", price="3.60")]), user=buyer)
    latest = product.history.first()
    assert latest.history_type == "~" and latest.history_user == buyer
    assert (latest.purchase_price, latest.selling_price) == (Decimal("2.4000"), Decimal("3.60"))
    assert "supplier.csv" in latest.history_change_reason
    delta = latest.diff_against(latest.prev_record)
    assert {change.field for change in delta.changes} >= {"purchase_price", "selling_price"}
    assert [(c.old, c.new) for c in delta.changes if c.field == "selling_price"] == [(Decimal("3.00"), Decimal("3.60"))]


def test_created_products_categories_and_suppliers_have_history_with_the_user(buyer):
    apply(csv_bytes([row(1, category="饮料 / 茶饮", supplier="统一")]), user=buyer)
    product = Product.objects.get(barcode=code(1))
    assert product.history.get().history_user == buyer
    assert product.category.parent.name == "饮料"
    assert Category.history.filter(history_user=buyer).count() == 2
    assert Supplier.history.get(name="统一").history_user == buyer


def test_reimporting_an_unchanged_file_changes_nothing_and_says_so(buyer):
    data = csv_bytes([row(n) for n in range(1, 50)])
    apply(data, user=buyer)
    state, histories = catalog_state(), history_count()
    again = apply(data, user=buyer)
    assert not again.has_changes and again.unchanged == 49
    assert catalog_state() == state and history_count() == histories


def test_blank_cells_leave_existing_values_alone():
    product = ProductFactory(barcode=code(1), name="保留", safety_stock=Decimal(8))
    apply(csv_bytes([[code(1), "", "", "9.00", "", "", "", ""]]))
    product.refresh_from_db()
    assert (product.name, product.safety_stock, product.purchase_price) == ("保留", Decimal(8), Decimal("9.0000"))


def test_supplier_option_fills_rows_without_supplier():
    supplier = SupplierFactory(name="农夫山泉")
    apply(csv_bytes([row(1, supplier="")]), default_supplier="农夫山泉")
    assert Product.objects.get(barcode=code(1)).supplier == supplier


def test_pack_barcodes_are_created_and_their_quantity_updated(buyer):
    headers = CHINESE + ["箱码", "箱规"]
    apply(csv_bytes([row(1) + [code(900), "24"]], headers=headers), user=buyer)
    pack = ProductBarcode.objects.get(barcode=code(900))
    assert (pack.product.barcode, pack.pack_quantity) == (code(1), 24)
    plan = apply(csv_bytes([row(1) + [code(900), "12"]], headers=headers), user=buyer)
    assert len(plan.updated) == 1 and plan.updated[0].changes == {"pack": (f"{code(900)} × 24", f"{code(900)} × 12")}
    pack.refresh_from_db()
    assert pack.pack_quantity == 12 and pack.history.first().history_user == buyer


def test_pack_barcode_of_another_product_is_refused():
    other = ProductBarcodeFactory()
    with pytest.raises(ImportRefused) as refused:
        apply(csv_bytes([row(1) + [other.barcode, "6"]], headers=CHINESE + ["箱码", "箱规"]))
    assert "already belongs" in refused.value.plan.errors[0].message
    assert not Product.objects.filter(barcode=code(1)).exists()


def test_over_long_pack_barcode_is_refused_and_writes_nothing():
    before, histories = catalog_state(), history_count()
    with pytest.raises(ImportRefused) as refused:
        apply(csv_bytes([row(1) + ["6901234567892-CASE12", "12"]], headers=CHINESE + ["箱码", "箱规"]))
    [error] = refused.value.plan.errors
    assert (error.row, error.column, error.value) == (2, "箱码", "6901234567892-CASE12")
    assert catalog_state() == before and history_count() == histories


def test_pack_barcode_written_as_upc_a_is_found_by_a_scan():
    apply(csv_bytes([row(1) + ["036000291452", "24"]], headers=CHINESE + ["箱码", "箱规"]))
    assert ProductBarcode.objects.get(barcode="0036000291452").pack_quantity == 24
    assert product_lookup("036000291452").product.barcode == code(1)


def test_confirming_after_the_catalog_changed_writes_nothing(buyer):
    product = ProductFactory(barcode=code(1), selling_price=Decimal("3.00"))
    data = csv_bytes([row(1, name=product.name, category=product.category.name, price="3.20"), row(2)])
    preview = catalog_import_preview(data=data, filename="supplier.csv")
    product_update(product=product, selling_price=Decimal("3.10"))
    with pytest.raises(ImportRefused, match="changed since the preview"):
        apply(data, user=buyer, expected_fingerprint=preview.fingerprint)
    product.refresh_from_db()
    assert product.selling_price == Decimal("3.10") and not Product.objects.filter(barcode=code(2)).exists()


def test_jin_prices_are_stored_per_kilogram():
    category = CategoryFactory(name="蔬菜")
    apply(csv_bytes([row(1, category=category.name, cost="1.50", price="2.49", stock="30", unit="斤")]))
    product = Product.objects.get(barcode=code(1))
    assert (product.unit, product.purchase_price, product.selling_price, product.safety_stock) == (
        "kg",
        Decimal("3.0000"),
        Decimal("4.98"),
        Decimal("15.000"),
    )


def test_jin_price_too_large_once_per_kilogram_is_refused_and_changes_nothing():
    with pytest.raises(ImportRefused) as refused:
        apply(csv_bytes([row(1, price="60000000", unit="斤")]))
    [error] = refused.value.plan.errors
    assert (error.row, error.column, error.value) == (2, "售价", "60000000")
    assert "is 120000000.00 per kg, more than the largest allowed, 99999999.99" in error.message
    assert not Product.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_imports_at_once_run_one_after_the_other():
    first_is_writing = threading.Event()

    def hold_the_first_open(phase: str, done: int, total: int) -> None:
        if phase == "create" and not first_is_writing.is_set():
            first_is_writing.set()
            time.sleep(0.5)  # its new category exists, uncommitted, while the second starts

    failures = []

    def run(data: bytes, progress) -> None:
        try:
            apply(data, progress=progress)
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=run, args=(csv_bytes([row(1, category="新类别")]), hold_the_first_open))
    second = threading.Thread(target=run, args=(csv_bytes([row(2, category="新类别")]), lambda *args: None))
    first.start()
    assert first_is_writing.wait(10)
    second.start()
    first.join()
    second.join()
    assert failures == []
    assert Category.objects.filter(name="新类别").count() == 1
    assert Product.objects.filter(category__name="新类别").count() == 2
