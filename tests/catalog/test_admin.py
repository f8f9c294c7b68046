import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import Category, Product, ProductBarcode
from catalog.selectors import product_lookup
from catalog.services import product_update
from stock.models import Lot, MovementKind
from stock.services import stock_move
from tests.factories import CategoryFactory, ProductBarcodeFactory, ProductFactory, ean13

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", password="x"))
    return client


def test_product_list_shows_on_hand_and_filters_below_safety_stock(staff_client, floor):
    low = ProductFactory(name="低库存商品", safety_stock=Decimal(10))
    fine = ProductFactory(name="充足商品", safety_stock=Decimal(2))
    stock_move(product=low, location=floor, quantity=Decimal(3), kind=MovementKind.RECEIPT)
    stock_move(product=fine, location=floor, quantity=Decimal(40), kind=MovementKind.RECEIPT)
    page = staff_client.get(reverse("admin:catalog_product_changelist"), {"stock": "below"})
    assert page.status_code == 200
    content = page.content.decode()
    assert "低库存商品" in content and "充足商品" not in content


def test_product_search_finds_upc_a_typed_with_12_digits(staff_client):
    ProductFactory(name="进口饼干", barcode="0036000291452")
    page = staff_client.get(reverse("admin:catalog_product_changelist"), {"q": "036000291452"})
    assert "进口饼干" in page.content.decode()


def test_product_search_finds_extra_barcodes(staff_client):
    extra = ProductBarcodeFactory(pack_quantity=24, product__name="整箱啤酒")
    page = staff_client.get(reverse("admin:catalog_product_changelist"), {"q": extra.barcode})
    assert "整箱啤酒" in page.content.decode()


def test_product_change_page_has_barcodes_inline_and_history(staff_client):
    product = ProductFactory()
    page = staff_client.get(reverse("admin:catalog_product_change", args=[product.pk]))
    assert page.status_code == 200 and "barcodes-TOTAL_FORMS" in page.content.decode()
    history = staff_client.get(reverse("admin:catalog_product_history", args=[product.pk]))
    assert history.status_code == 200


def test_ledger_rows_cannot_be_edited_in_the_admin(staff_client, floor):
    movement = stock_move(product=ProductFactory(), location=floor, quantity=Decimal(5), kind=MovementKind.RECEIPT)
    change = reverse("admin:stock_stockmovement_change", args=[movement.pk])
    response = staff_client.post(change, {"quantity": "500"})
    movement.refresh_from_db()
    assert movement.quantity == 5
    assert response.status_code in (403, 200)
    delete = staff_client.post(reverse("admin:stock_stockmovement_delete", args=[movement.pk]), {"post": "yes"})
    assert delete.status_code == 403


def revert_form_data(page) -> dict:
    """What a browser posts from simple-history's revert page: the form as shown."""
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    return data


def test_reverting_a_product_restores_its_prices_but_keeps_the_current_cost(staff_client):
    product = ProductFactory(purchase_price=Decimal("3.2000"), selling_price=Decimal("4.50"))
    product_update(product=product, selling_price=Decimal("45.00"))  # a mistyped price
    product_update(product=product, purchase_price=Decimal("3.6000"))  # a receipt's moving average since
    before_typo = product.history.order_by("history_id").first()
    url = reverse("admin:catalog_product_simple_history", args=[product.pk, before_typo.history_id])
    page = staff_client.get(url)
    assert page.status_code == 200 and "purchase_price" not in page.context["adminform"].form.fields
    assert "3.6000" in page.content.decode() and "3.2000" not in page.content.decode()

    response = staff_client.post(url, {**revert_form_data(page), "purchase_price": "3.2000"})
    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.selling_price, product.purchase_price) == (Decimal("4.50"), Decimal("3.6000"))
    latest = product.history.first()
    assert (latest.selling_price, latest.purchase_price) == (Decimal("4.50"), Decimal("3.6000"))
    assert latest.history_user.username == "boss"


def change_form_data(page) -> dict:
    """What a browser posts from a product's change page left as shown: its fields, the hidden values of those
    that carry what they showed, and the inlines' management forms."""
    form = page.context["adminform"].form
    data = revert_form_data(page)
    data.update(
        {form.add_initial_prefix(name): data[name] for name in form.fields if form[name].field.show_hidden_initial}
    )
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
    return data


def test_the_change_form_keeps_a_cost_a_receipt_moved_while_it_was_open(staff_client):
    product = ProductFactory(purchase_price=Decimal("3.2000"), selling_price=Decimal("4.50"))
    url = reverse("admin:catalog_product_change", args=[product.pk])
    page = staff_client.get(url)
    assert 'name="initial-purchase_price" value="3.2000"' in page.content.decode()
    data = change_form_data(page)
    product_update(product=product, purchase_price=Decimal("3.6000"))  # a receipt's moving average meanwhile

    assert staff_client.post(url, {**data, "selling_price": "4.80"}).status_code == 302
    product.refresh_from_db()
    assert (product.selling_price, product.purchase_price) == (Decimal("4.80"), Decimal("3.6000"))
    assert product.history.first().purchase_price == Decimal("3.6000")


def test_a_cost_typed_into_the_change_form_is_saved(staff_client):
    product = ProductFactory(purchase_price=Decimal("3.2000"))
    url = reverse("admin:catalog_product_change", args=[product.pk])
    data = change_form_data(staff_client.get(url))
    product_update(product=product, purchase_price=Decimal("3.6000"))

    assert staff_client.post(url, {**data, "purchase_price": "3.9000"}).status_code == 302
    product.refresh_from_db()
    assert product.purchase_price == Decimal("3.9000")


def test_lot_tracking_cannot_be_turned_off_while_stock_is_held_in_lots(staff_client, floor):
    product = ProductFactory(lot_tracked=True)
    lot = Lot.objects.create(product=product, code="L1", expiry_date=date.today() + timedelta(days=30))
    stock_move(product=product, location=floor, quantity=Decimal(10), kind=MovementKind.RECEIPT, lot=lot)
    url = reverse("admin:catalog_product_change", args=[product.pk])
    data = change_form_data(staff_client.get(url))
    data.pop("lot_tracked")  # the box unticked

    refused = staff_client.post(url, data)
    assert refused.status_code == 200
    assert "still in lots" in refused.content.decode()
    product.refresh_from_db()
    assert product.lot_tracked

    stock_move(product=product, location=floor, quantity=Decimal(-10), kind=MovementKind.WRITE_OFF, lot=lot)
    assert staff_client.post(url, data).status_code == 302
    product.refresh_from_db()
    assert not product.lot_tracked


def add_form_data(category, **fields) -> dict:
    """What a browser posts from the empty "add product" page, with `fields` typed in."""
    extras = fields.pop("extras", [])
    data = {
        "barcode": ean13(41),
        "store_code": "",
        "name": "新商品",
        "name_en": "",
        "category": category.pk,
        "supplier": "",
        "purchase_price": "1.0000",
        "initial-purchase_price": "",
        "selling_price": "2.00",
        "tax_rate": "13.00",
        "unit": "each",
        "safety_stock": "0",
        "active": "on",
        "barcodes-TOTAL_FORMS": str(len(extras)),
        "barcodes-INITIAL_FORMS": "0",
        "barcodes-MIN_NUM_FORMS": "0",
        "barcodes-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i, (code, pack_quantity) in enumerate(extras):
        data[f"barcodes-{i}-barcode"] = code
        data[f"barcodes-{i}-pack_quantity"] = str(pack_quantity)
    return data


def test_a_store_code_equal_to_another_products_barcode_is_refused(staff_client):
    dumplings = ProductFactory(name="速冻水饺", barcode="6950001000032")
    refused = staff_client.post(
        reverse("admin:catalog_product_add"), add_form_data(dumplings.category, store_code="6950001000032")
    )
    assert refused.status_code == 200
    assert "already the barcode of 速冻水饺" in str(refused.context["adminform"].form.errors["store_code"])
    assert not Product.objects.filter(name="新商品").exists()
    assert product_lookup("6950001000032").product == dumplings  # the till still sells the dumplings


def test_a_barcode_equal_to_another_products_store_code_is_refused(staff_client):
    bananas = ProductFactory(name="香蕉", store_code="4011")
    refused = staff_client.post(reverse("admin:catalog_product_add"), add_form_data(bananas.category, barcode="4011"))
    assert refused.status_code == 200
    assert "already the store code of 香蕉" in str(refused.context["adminform"].form.errors["barcode"])
    assert not Product.objects.filter(name="新商品").exists()


def test_a_store_code_equal_to_another_products_extra_barcode_is_refused(staff_client):
    case = ProductBarcodeFactory(pack_quantity=24, product__name="整箱啤酒")
    refused = staff_client.post(
        reverse("admin:catalog_product_add"), add_form_data(case.product.category, store_code=case.barcode)
    )
    assert refused.status_code == 200
    assert "already an extra barcode of 整箱啤酒" in str(refused.context["adminform"].form.errors["store_code"])
    assert not Product.objects.filter(name="新商品").exists()


def inline_errors(page) -> list[str]:
    [inline] = page.context["inline_admin_formsets"]
    return [str(message) for form in inline.formset.forms for message in form.errors.get("barcode", [])]


def test_an_extra_barcode_equal_to_the_new_products_main_barcode_is_refused(staff_client):
    category = CategoryFactory()
    data = add_form_data(category, barcode="6901234567892", extras=[("6901234567892", 6)])
    refused = staff_client.post(reverse("admin:catalog_product_add"), data)
    assert refused.status_code == 200
    assert inline_errors(refused) == ["Code 6901234567892 is already this product's main barcode."]
    assert not Product.objects.exists() and not ProductBarcode.objects.exists()


def change_with_extra(staff_client, product, code: str, **fields):
    url = reverse("admin:catalog_product_change", args=[product.pk])
    data = change_form_data(staff_client.get(url))
    data.update(
        {
            "barcodes-TOTAL_FORMS": "1",
            "barcodes-0-barcode": code,
            "barcodes-0-pack_quantity": "6",
            "barcodes-0-product": str(product.pk),
            **fields,
        }
    )
    return staff_client.post(url, data)


def test_changing_the_main_barcode_to_an_extra_barcode_added_in_the_same_save_is_refused(staff_client):
    product = ProductFactory(barcode=ean13(42))
    refused = change_with_extra(staff_client, product, ean13(43), barcode=ean13(43))
    assert refused.status_code == 200
    assert inline_errors(refused) == [f"Code {ean13(43)} is already this product's main barcode."]
    product.refresh_from_db()
    assert product.barcode == ean13(42) and not product.barcodes.exists()


def test_the_old_main_barcode_can_become_an_extra_barcode_in_the_same_save(staff_client):
    product = ProductFactory(barcode=ean13(42))
    assert change_with_extra(staff_client, product, ean13(42), barcode=ean13(43)).status_code == 302
    product.refresh_from_db()
    assert product.barcode == ean13(43)
    assert list(product.barcodes.values_list("barcode", "pack_quantity")) == [(ean13(42), 6)]


def test_one_extra_barcode_typed_as_upc_a_and_as_ean13_is_refused(staff_client):
    data = add_form_data(CategoryFactory(), extras=[("036000291452", 6), ("0036000291452", 12)])
    refused = staff_client.post(reverse("admin:catalog_product_add"), data)
    assert refused.status_code == 200
    assert inline_errors(refused) == ["Code 0036000291452 is entered more than once."]
    assert not Product.objects.exists() and not ProductBarcode.objects.exists()


def test_a_second_top_level_category_with_the_same_name_is_refused_on_the_form(staff_client):
    CategoryFactory(name="饮料")
    refused = staff_client.post(reverse("admin:catalog_category_add"), {"name": "饮料", "name_en": "", "parent": ""})
    assert refused.status_code == 200
    assert refused.context["adminform"].form.non_field_errors() == [
        "There is already a top-level category with this name: choose another name or a parent."
    ]
    assert Category.objects.filter(name="饮料").count() == 1


def test_the_same_name_under_another_parent_is_still_allowed(staff_client):
    drinks = CategoryFactory(name="饮料")
    CategoryFactory(name="果汁", parent=CategoryFactory(name="冷饮"))
    response = staff_client.post(
        reverse("admin:catalog_category_add"), {"name": "果汁", "name_en": "", "parent": drinks.pk}
    )
    assert response.status_code == 302
    assert Category.objects.filter(name="果汁").count() == 2


def test_price_history_is_headed_by_the_field_names_in_chinese_and_shows_no_none(staff_client):
    product = ProductFactory(selling_price=Decimal("4.50"))
    url = reverse("admin:catalog_product_change", args=[product.pk])
    assert (
        staff_client.post(url, {**change_form_data(staff_client.get(url)), "selling_price": "4.80"}).status_code == 302
    )

    staff_client.cookies["django_language"] = "zh-hans"
    page = staff_client.get(reverse("admin:catalog_product_history", args=[product.pk]))
    table = re.search(r'<table id="change-history".*?</table>', page.content.decode(), re.S).group()
    headers = re.findall(r'<th scope="col">\s*(.*?)\s*</th>', table)
    assert headers[1:3] == ["售价", "进价"]
    assert not [header for header in headers if header.isascii()]
    rows = [re.findall(r"<td>\s*(.*?)\s*</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    assert [(row[1], row[2]) for row in rows] == [("4.80", "3.2000"), ("4.50", "3.2000")]
    assert [row[6] for row in rows] == ["", ""]  # no change reason given: an empty cell, not "None"
