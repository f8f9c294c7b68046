"""Each shape of file real suppliers send, made here, read and checked without writing."""

import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from catalog.imports.reading import UnreadableFile
from catalog.imports.report import plan_message
from catalog.imports.services import catalog_import_preview
from catalog.imports.uploads import upload_kind
from catalog.models import Product, Unit
from catalog.resources import spreadsheet_safe
from tests.factories import CategoryFactory, ProductBarcodeFactory, ProductFactory, ean13

pytestmark = pytest.mark.django_db

CHINESE = ["条码", "商品名称", "类别", "进价", "售价", "供应商", "安全库存", "单位"]
ENGLISH = ["barcode", "name", "category", "purchase price", "selling price", "supplier", "safety stock", "unit"]


def code(n: int) -> str:
    """Barcodes of the test files, far from the factories' sequence so they never collide by chance."""
    return ean13(700_000_000 + n)


def csv_bytes(rows: list[list[str]], *, headers=CHINESE, delimiter=",", encoding="utf-8") -> bytes:
    lines = [delimiter.join(headers)] + [delimiter.join(row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: list[list], *, headers=CHINESE) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def preview(data: bytes, **kwargs):
    return catalog_import_preview(data=data, filename="catalog.csv", **kwargs)


def row(
    n: int, *, name="可口可乐 330ml", category="饮料", cost="2.10", price="3.50", supplier="太古", stock="24", unit="瓶"
):
    return [code(n), name, category, cost, price, supplier, stock, unit]


def created(plan, n: int):
    return next(r for r in plan.created if r.barcode == code(n))


def test_chinese_and_english_headers_map_to_the_same_fields():
    chinese = preview(csv_bytes([row(1)]))
    english = preview(csv_bytes([row(1)], headers=ENGLISH))
    assert not chinese.errors and not english.errors
    assert created(chinese, 1).values == created(english, 1).values
    assert created(chinese, 1).values["purchase_price"] == Decimal("2.1000")
    assert created(chinese, 1).values["category"] == ("饮料",)


def test_utf8_with_bom_is_read():
    plan = preview(b"\xef\xbb\xbf" + csv_bytes([row(1)]))
    assert not plan.errors and created(plan, 1).values["name"] == "可口可乐 330ml"


def test_real_gbk_file_from_chinese_excel_is_read():
    data = csv_bytes([row(1, name="康师傅红烧牛肉面", price="￥4.50")], encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really GBK, not UTF-8 that happens to decode
    plan = preview(data)
    assert not plan.errors
    assert created(plan, 1).values["name"] == "康师傅红烧牛肉面"
    assert created(plan, 1).values["selling_price"] == Decimal("4.50")


@pytest.mark.parametrize(
    ("encoding", "end"),
    [
        ("gbk", "饮料/碳".encode("gbk")[:-1]),  # a character, one ASCII byte, then half a character
        ("gbk", "料,可".encode("gbk")[:-1]),
        ("gbk", "可乐".encode("gbk")[:-1]),
        ("utf-8", "鲜果😀".encode()[:-1]),  # a four-byte character cut after three bytes
        ("utf-8", "鲜果😀".encode()[:-3]),
    ],
)
def test_an_upload_is_taken_as_csv_whatever_character_its_first_8_kb_end_inside(encoding, end):
    """The kind of an upload is judged from its first 8 KB, which often end inside a multibyte character."""
    text = "条码,商品名称,类别\r\n" + "6901234567892,3.50,2.50\r\n" * 400
    head = text.encode(encoding)[: 8192 - len(end)] + end  # the rows are ASCII: any cut before `end` is clean
    assert upload_kind(head) == "csv"


def test_gb18030_characters_outside_gbk_are_read():
    plan = preview(csv_bytes([row(1, name="𠮷野家牛肉饭")], encoding="gb18030"))
    assert created(plan, 1).values["name"] == "𠮷野家牛肉饭"


def test_xlsx_written_with_openpyxl_is_read_with_numeric_barcodes_and_prices():
    data = xlsx_bytes(
        [
            [int(code(1)), "雪碧", "饮料", 2.1, 3.5, "太古", 12, "瓶"],
            [code(2), "芬达", "饮料", "2.00", "3.00", "", None, "瓶"],
        ]
    )
    plan = preview(data)
    assert not plan.errors
    assert created(plan, 1).values["selling_price"] == Decimal("3.50")
    assert created(plan, 1).values["safety_stock"] == Decimal("12.000")
    assert "supplier" not in created(plan, 2).values


def test_xlsx_prices_computed_by_a_formula_read_as_excel_shows_them():
    # A quote sheet's 进价 = 售价 * 0.8: the cell holds the float the formula gave, Excel shows 7.92.
    data = xlsx_bytes([[code(1), "雪碧", "饮料", 9.9 * 0.8, 0.1 + 0.2, "太古", 12, "瓶"]])
    plan = preview(data)
    assert not plan.errors
    assert created(plan, 1).values["purchase_price"] == Decimal("7.92")
    assert created(plan, 1).values["selling_price"] == Decimal("0.30")


def test_title_rows_above_the_header_are_skipped_and_row_numbers_stay_the_sheets():
    workbook = Workbook()
    sheet = workbook.active
    sheet["A1"] = "广州太古可口可乐 商品报价单 2026年11月"
    sheet.append([])
    sheet.append(CHINESE)
    sheet.append(row(1))
    sheet.append(row(2, price="abc"))
    out = io.BytesIO()
    workbook.save(out)
    plan = preview(out.getvalue())
    assert plan.ignored_columns == [] and len(plan.created) == 1
    [error] = plan.errors
    assert (error.row, error.column) == (5, "售价")


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_files_with_decimal_commas(delimiter):
    plan = preview(csv_bytes([row(1, cost="12,50", price="15,9")], delimiter=delimiter))
    assert not plan.errors
    assert created(plan, 1).values["purchase_price"] == Decimal("12.5000")
    assert created(plan, 1).values["selling_price"] == Decimal("15.90")


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("¥1,299.00", "1299.00"),
        ("1299", "1299.00"),
        ("1.299,00", "1299.00"),
        ("￥ 8.8 元", "8.80"),
        ("RMB 12", "12.00"),
    ],
)
def test_prices_as_suppliers_write_them(written, expected):
    plan = preview(csv_bytes([row(1, price=f'"{written}"', cost="1")]))
    assert not plan.errors, plan.errors
    assert created(plan, 1).values["selling_price"] == Decimal(expected)


def test_blank_trailing_rows_and_columns_are_ignored():
    data = csv_bytes([row(1) + ["", ""], row(2) + ["", ""], [""] * 10, [""] * 10], headers=CHINESE + ["", ""])
    plan = preview(data)
    assert not plan.errors and plan.total_rows == 2 and len(plan.created) == 2
    assert plan.ignored_columns == []


def test_unknown_columns_are_listed_as_ignored():
    plan = preview(csv_bytes([row(1) + ["产地: 广州"]], headers=CHINESE + ["备注"]))
    assert plan.ignored_columns == ["备注"] and not plan.errors


def test_barcode_in_scientific_notation_is_refused_saying_so():
    plan = preview(csv_bytes([row(1), ["6.90123E+12"] + row(2)[1:]]))
    [error] = plan.errors
    assert (error.row, error.column, error.value) == (3, "条码", "6.90123E+12")
    assert "scientific notation" in error.message


def test_barcode_that_lost_its_leading_zero_is_restored():
    upc = "036000291452"  # UPC-A, stored as 0036000291452; Excel wrote 36000291452
    plan = preview(csv_bytes([[upc.lstrip("0")] + row(1)[1:]]))
    assert not plan.errors
    assert plan.created[0].barcode == "0036000291452"


def test_short_code_is_ambiguous_unless_the_catalog_knows_one_reading():
    ean8 = "01234565"  # EAN-8; without its zero, 1234565 could also be EAN-13 0000001234565
    plan = preview(csv_bytes([[ean8.lstrip("0")] + row(1)[1:]]))
    [error] = plan.errors
    assert "01234565" in error.message and "0000001234565" in error.message
    ProductFactory(barcode=ean8, name="旧包装")
    plan = preview(csv_bytes([[ean8.lstrip("0")] + row(1)[1:]]))
    assert not plan.errors and plan.updated[0].barcode == ean8


def test_wrong_check_digit_names_the_expected_digit():
    good = code(1)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    plan = preview(csv_bytes([[bad] + row(1)[1:]]))
    [error] = plan.errors
    assert error.row == 2 and error.column == "条码" and f"should be {good[-1]}" in error.message


def test_duplicate_barcodes_in_the_file_name_both_rows():
    plan = preview(csv_bytes([row(1), row(2), row(1, name="重复")]))
    [error] = plan.errors
    assert error.row == 4 and "rows 2 and 4" in error.message


@pytest.mark.parametrize(
    ("cost", "reason"), [("-1.00", "negative"), ("abc", "not a number"), ("1.23456", "decimal places")]
)
def test_bad_prices_are_errors_with_row_column_and_reason(cost, reason):
    plan = preview(csv_bytes([row(1), row(2, cost=cost)]))
    [error] = plan.errors
    assert (error.row, error.column, error.value) == (3, "进价", cost)
    assert reason in error.message


@pytest.mark.parametrize(
    ("column", "cell", "limit"),
    [
        ("进价", "123456789012345678901234567890", "99999999.9999"),
        ("进价", "1e30", "99999999.9999"),
        ("售价", "123456789012345678901234567890", "99999999.99"),
        ("售价", "100000000", "99999999.99"),
        ("安全库存", "1E+999999", "999999999.999"),
        ("箱规", "123456789012345678901234567890", "999999999"),
    ],
)
def test_huge_numbers_are_errors_naming_the_largest_allowed(column, cell, limit):
    cells = dict(zip(CHINESE + ["箱码", "箱规"], row(1) + [code(900), "24"], strict=True))
    cells[column] = cell
    plan = preview(csv_bytes([list(cells.values())], headers=list(cells)))
    [error] = plan.errors
    assert (error.row, error.column, error.value) == (2, column, cell)
    assert f"is too large: the largest allowed is {limit}" in error.message
    assert not plan.created


@pytest.mark.parametrize("cell", ["NaN", "sNaN", "Infinity", "-inf"])
def test_nan_and_infinity_are_not_numbers(cell):
    [error] = preview(csv_bytes([row(1, price=cell)])).errors
    assert error.column == "售价" and "not a number" in error.message


def test_selling_below_purchase_is_a_warning_not_an_error():
    plan = preview(csv_bytes([row(1, cost="5.00", price="4.50")]))
    assert not plan.errors and len(plan.created) == 1
    [warning] = plan.warnings
    assert warning.row == 2 and "below the purchase price" in warning.message


@pytest.mark.parametrize("unit", ["件", "个", "瓶", "袋", "盒"])
def test_piece_units(unit):
    assert created(preview(csv_bytes([row(1, unit=unit)])), 1).values["unit"] == Unit.EACH


def test_jin_is_half_a_kilogram_for_prices_and_safety_stock():
    plan = preview(
        csv_bytes([row(1, cost="3.00", price="4.99", stock="20", unit="斤"), row(2, unit="公斤"), row(3, unit="kg")])
    )
    jin = created(plan, 1).values
    assert jin["unit"] == Unit.KG
    assert jin["purchase_price"] == Decimal("6.00") and jin["selling_price"] == Decimal("9.98")
    assert jin["safety_stock"] == Decimal("10.000")
    assert created(plan, 2).values["unit"] == created(plan, 3).values["unit"] == Unit.KG


def test_unknown_unit_is_an_error():
    [error] = preview(csv_bytes([row(1, unit="桶装")])).errors
    assert error.column == "单位" and "桶装" in error.message


def test_new_product_without_required_fields_is_an_error():
    [error] = preview(csv_bytes([[code(1), "无价商品", "饮料", "", "", "", "", ""]])).errors
    assert "purchase price" in error.message and "selling price" in error.message


def test_file_without_barcode_column_is_refused():
    plan = preview(csv_bytes([["可乐", "3.50"]], headers=["商品名称", "售价"]))
    assert plan.errors[0].row == 1 and "barcode" in plan.errors[0].message


def test_binary_xls_and_undecodable_text_are_refused_whole():
    with pytest.raises(UnreadableFile, match=".xls"):
        preview(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(UnreadableFile, match="UTF-8"):
        preview(b"\xff\xfe\xfd" * 3 + b"\x81\x20")


def test_category_paths_and_ambiguous_names():
    drinks = CategoryFactory(name="饮料")
    CategoryFactory(name="碳酸饮料", parent=drinks)
    CategoryFactory(name="进口", parent=drinks)
    CategoryFactory(name="进口", parent=CategoryFactory(name="零食"))
    plan = preview(csv_bytes([row(1, category="碳酸饮料"), row(2, category="饮料 / 果汁"), row(3, category="进口")]))
    assert created(plan, 1).values["category"] == ("饮料", "碳酸饮料")
    assert plan.new_categories == [("饮料", "果汁")]
    [error] = plan.errors
    assert error.row == 4 and "full path" in error.message


def test_pack_barcode_needs_quantity_and_must_not_be_a_main_barcode():
    existing = ProductFactory()
    headers = CHINESE + ["箱码", "箱规"]
    plan = preview(
        csv_bytes(
            [row(1) + [code(900), "24"], row(2) + [code(901), ""], row(3) + [existing.barcode, "6"]], headers=headers
        )
    )
    assert [(e.row, e.column) for e in plan.errors] == [(3, "箱码"), (4, "箱码")]
    assert plan.pack_created == [(code(1), code(900), 24)]


def test_main_barcode_already_an_extra_barcode_is_an_error():
    extra = ProductBarcodeFactory()
    [error] = preview(csv_bytes([[extra.barcode] + row(1)[1:]])).errors
    assert "extra barcode" in error.message and extra.product.barcode in error.message


def test_preview_writes_nothing():
    before = Product.objects.count()
    plan = preview(csv_bytes([row(n) for n in range(1, 20)]))
    assert len(plan.created) == 19 and Product.objects.count() == before


PACK = CHINESE + ["箱码", "箱规"]


@pytest.mark.parametrize(
    ("pack_code", "reason"),
    [
        ("6.9012345E+13", "scientific notation"),
        ("ABC-12 box", "neither a barcode"),
        ("12345678901234", "Wrong check digit"),
        ("6901234567892-CASE12", "neither a barcode"),  # longer than the column: was a server error on confirm
    ],
)
def test_bad_pack_barcode_is_an_error_in_its_row_and_column(pack_code, reason):
    plan = preview(csv_bytes([row(1) + [code(900), "12"], row(2) + [pack_code, "6"]], headers=PACK))
    [error] = plan.errors
    assert (error.row, error.column, error.value) == (3, "箱码", pack_code)
    assert reason in error.message
    assert plan.pack_created == [(code(1), code(900), 12)]  # only the good row's


def test_pack_barcode_is_stored_in_the_form_a_scan_finds():
    # UPC-A is stored as its EAN-13, a GTIN-14 with indicator 0 as the GTIN-13 inside it.
    gtin14 = "0" + code(901)
    plan = preview(csv_bytes([row(1) + ["036000291452", "24"], row(2) + [gtin14, "6"]], headers=PACK))
    assert not plan.errors
    assert plan.pack_created == [(code(1), "0036000291452", 24), (code(2), code(901), 6)]


def test_pack_barcode_equal_to_a_main_barcode_or_another_pack_in_another_form_is_an_error():
    existing = ProductFactory()
    rows = [
        row(1) + ["0" + code(1), "6"],  # its own barcode, as a GTIN-14
        row(2) + ["0" + existing.barcode, "6"],  # another product's barcode
        row(3) + [code(900), "6"],
        row(4) + ["0" + code(900), "12"],  # row 4's pack code again
    ]
    plan = preview(csv_bytes(rows, headers=PACK))
    assert [(e.row, e.column) for e in plan.errors] == [(2, "箱码"), (3, "箱码"), (5, "箱码")]
    assert "rows 4 and 5" in plan.errors[2].message


def test_full_width_digits_and_spaces_in_codes_and_numbers_are_read():
    # Typed with a Chinese input method in full-width mode: ３６０… and the ideographic space.
    rows = [
        ["３６０００２９１４５２"] + row(1)[1:],
        [f"{code(2)[:6]}\u3000{code(2)[6:]}"] + row(2, cost="１２，５", price="１５．９０")[1:],
    ]
    plan = preview(csv_bytes(rows))
    assert not plan.errors, plan.errors
    assert [r.barcode for r in plan.created] == ["0036000291452", code(2)]
    assert created(plan, 2).values["purchase_price"] == Decimal("12.5000")
    assert created(plan, 2).values["selling_price"] == Decimal("15.90")


def test_names_keep_their_full_width_and_special_characters():
    name = "-18℃速冻水饺（猪肉白菜）①"
    plan = preview(csv_bytes([row(1, name=name)]))
    assert created(plan, 1).values["name"] == name


@pytest.mark.parametrize("header", ["售价（元）", "售价(元)", "零售价/元", "售价元", "零售价（元/件）", "售价 (RMB)"])
def test_price_header_with_its_currency_or_unit_is_the_price_column(header):
    product = ProductFactory(barcode=code(1), selling_price=Decimal("3.00"))
    plan = preview(csv_bytes([[code(1), product.name, "99.90"]], headers=["条码", "商品名称", header]))
    assert not plan.errors and plan.ignored_columns == []
    assert plan.updated[0].values["selling_price"] == Decimal("99.90")


def test_purchase_price_header_with_yuan_is_read():
    plan = preview(csv_bytes([row(1)], headers=["条码", "商品名称", "类别", "进价（元）"] + CHINESE[4:]))
    assert not plan.errors and created(plan, 1).values["purchase_price"] == Decimal("2.1000")


def test_prices_per_jin_in_the_header_are_converted_for_rows_in_jin():
    headers = ["条码", "商品名称", "类别", "进价（元/斤）", "售价（元/斤）", "供应商", "安全库存", "单位"]
    plan = preview(csv_bytes([row(1, cost="3.00", price="4.99", unit="斤")], headers=headers))
    assert not plan.errors
    assert created(plan, 1).values["selling_price"] == Decimal("9.98")


@pytest.mark.parametrize(
    ("unit", "reason"), [("", "this row needs 斤 in a unit (单位) column"), ("kg", "this row's unit is kg")]
)
def test_prices_per_jin_in_the_header_need_rows_in_jin(unit, reason):
    headers = ["条码", "商品名称", "类别", "进价", "售价（元/斤）", "供应商", "安全库存", "单位"]
    plan = preview(csv_bytes([row(1, unit=unit)], headers=headers))
    [error] = plan.errors
    assert (error.row, error.column) == (2, "售价（元/斤）") and reason in error.message
    assert not plan.created


def test_a_missing_column_is_named_by_its_label():
    plan = preview(csv_bytes([[code(1), "无价商品", "饮料", "3.50"]], headers=["条码", "商品名称", "类别", "售价"]))
    [error] = plan.errors
    assert error.column == "Purchase price" and "needs: purchase price" in error.message


def test_barcode_that_is_another_products_store_code_is_an_error():
    plu = ProductFactory(store_code="10013", name="散装苹果")
    plan = preview(csv_bytes([["10013"] + row(1, name="散装苹果", unit="kg")[1:]]))
    [error] = plan.errors
    assert (error.row, error.column, error.value) == (2, "条码", "10013")
    assert "store code of product " + plu.barcode in error.message
    assert not plan.created


def test_pack_barcode_that_is_a_store_code_is_an_error():
    ProductFactory(store_code="10013")
    [error] = preview(csv_bytes([row(1) + ["10013", "6"]], headers=PACK)).errors
    assert (error.row, error.column) == (2, "箱码") and "store code" in error.message


@pytest.mark.parametrize(
    "written", ["Beverages / Juice", "饮料／果汁", "饮料＞果汁", "beverages>果汁", "饮料 / Juice", "Beverages/果汁"]
)
def test_category_paths_match_english_names_and_full_width_separators(written):
    drinks = CategoryFactory(name="饮料", name_en="Beverages")
    juice = CategoryFactory(name="果汁", name_en="Juice", parent=drinks)
    CategoryFactory(name="果汁", name_en="Juice", parent=CategoryFactory(name="冷饮"))
    plan = preview(csv_bytes([row(1, category=written)]))
    assert not plan.errors and plan.new_categories == []
    assert created(plan, 1).values["category"] == ("饮料", "果汁")
    assert plan.categories[("饮料", "果汁")] == juice.pk


def test_a_path_part_two_sibling_categories_answer_to_by_english_name_is_refused():
    drinks = CategoryFactory(name="饮料", name_en="Beverages")
    CategoryFactory(name="果汁", name_en="Juice", parent=drinks)
    CategoryFactory(name="鲜榨果汁", name_en="Juice", parent=drinks)
    [error] = preview(csv_bytes([row(1, category="饮料 / Juice")])).errors
    assert "Several categories are called Juice" in error.message


def test_new_category_under_a_parent_named_in_english_goes_under_that_parent():
    CategoryFactory(name="饮料", name_en="Beverages")
    plan = preview(csv_bytes([row(1, category="Beverages / Soda")]))
    assert plan.new_categories == [("饮料", "Soda")]


@pytest.mark.parametrize("name", ["-18℃速冻水饺", "+1 加量装", "=号牌酱油", "@home 纸巾"])
def test_exported_apostrophe_before_a_formula_character_is_taken_off(name):
    ProductFactory(barcode=code(1), name=name, supplier__name="太古")
    plan = preview(csv_bytes([[code(1), spreadsheet_safe(name)]], headers=["条码", "商品名称"]))
    assert not plan.errors and not plan.has_changes and plan.unchanged == 1


def test_an_apostrophe_before_other_text_is_kept():
    assert created(preview(csv_bytes([row(1, name="'t Hooft 奶酪")])), 1).values["name"] == "'t Hooft 奶酪"


def workbook_bytes(sheets: dict[str, list[list]]) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for cells in rows:
            sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


INSTRUCTIONS = [["填写说明"], ["1. 条码请填写13位国际条码"], ["2. 价格单位为元"]]


def test_xlsx_is_read_from_the_first_sheet_with_a_barcode_column():
    data = workbook_bytes({"填写说明": INSTRUCTIONS, "空白": [], "商品": [CHINESE, row(1), row(2)]})
    plan = preview(data)
    assert not plan.errors and [r.barcode for r in plan.created] == [code(1), code(2)]
    assert plan.created[0].number == 2  # the row numbers are that sheet's


def test_workbook_without_a_header_row_says_which_sheets_were_read():
    plan = preview(workbook_bytes({"填写说明": INSTRUCTIONS, "备注": [["无"]]}))
    [error] = plan.errors
    assert "No sheet has a barcode column" in error.message and "sheets read: 填写说明, 备注" in error.message
    assert plan_message(plan) == f"The file cannot be imported: {error.message}"


def test_file_without_barcode_column_is_not_counted_as_invalid_rows():
    plan = preview(csv_bytes([["可乐", "3.50"]], headers=["商品名称", "售价"]))
    assert plan_message(plan) == (
        "The file cannot be imported: No barcode column (barcode / 条码 / 条形码) in the header row."
    )
