from decimal import Decimal

import pytest

from catalog import gtin
from catalog.models import Unit
from catalog.selectors import InactiveProduct, UnknownCode, product_lookup, product_search
from tests.factories import ProductBarcodeFactory, ProductFactory, ean13

pytestmark = pytest.mark.django_db


def test_main_barcode_finds_the_product_with_quantity_one():
    product = ProductFactory()
    scan = product_lookup(product.barcode)
    assert scan.product == product and scan.quantity == 1 and scan.amount is None


def test_twelve_digit_upc_finds_the_13_digit_product():
    product = ProductFactory(barcode="0036000291452")
    assert product_lookup("036000291452").product == product


def test_case_barcode_counts_its_pack_quantity():
    extra = ProductBarcodeFactory(pack_quantity=24)
    scan = product_lookup(extra.barcode)
    assert scan.product == extra.product and scan.quantity == 24


def test_unknown_valid_code_raises_unknown_code():
    with pytest.raises(UnknownCode):
        product_lookup(ean13(424242))


def test_inactive_product_is_refused():
    product = ProductFactory(active=False)
    with pytest.raises(InactiveProduct):
        product_lookup(product.barcode)


def test_weight_label_from_the_scale_gives_the_weight_and_no_amount_of_its_own():
    apples = ProductFactory(store_code="01234", unit=Unit.KG, selling_price=Decimal("12.80"))
    label = gtin.with_check_digit("230123401250")  # prefix 23: weight, 1.250 kg
    scan = product_lookup(label)
    assert scan.product == apples
    assert scan.quantity == Decimal("1.250")
    assert scan.amount is None  # priced at the shelf price when sold, promotions included


def test_price_label_from_the_scale_gives_amount_and_derived_weight():
    pork = ProductFactory(store_code="04567", unit=Unit.KG, selling_price=Decimal("30.00"))
    label = gtin.with_check_digit("200456701500")  # prefix 20: price, ¥15.00
    scan = product_lookup(label)
    assert scan.product == pork
    assert scan.amount == Decimal("15.00")
    assert scan.quantity == Decimal("0.500")


def test_scale_label_for_unknown_item_says_which_item():
    with pytest.raises(UnknownCode, match="99999"):
        product_lookup(gtin.with_check_digit("239999901000"))


def test_search_by_name_or_store_code():
    bananas = ProductFactory(name="香蕉", name_en="Banana", store_code="4011")
    assert list(product_search("香蕉")) == [bananas]
    assert list(product_search("banana")) == [bananas]
    assert list(product_search("4011")) == [bananas]


def test_a_barcode_wins_over_another_products_store_code_in_one_query(django_assert_num_queries):
    # Data from before the codes were checked against each other: a store code typed as another product's EAN.
    dumplings = ProductFactory(name="速冻水饺", barcode="6950001000032")
    ProductFactory(name="三全汤圆", store_code="6950001000032")  # sorts first by name
    with django_assert_num_queries(1):
        scan = product_lookup("6950001000032")
    assert scan.product == dumplings
