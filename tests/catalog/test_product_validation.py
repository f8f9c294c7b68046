from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from catalog.models import Category, Product, ProductBarcode
from catalog.services import category_create, product_create, product_update
from tests.factories import CategoryFactory, ProductBarcodeFactory, ProductFactory, SupplierFactory, ean13

pytestmark = pytest.mark.django_db


def valid_fields(**overrides):
    fields = {
        "barcode": ean13(1),
        "name": "可口可乐 330ml",
        "name_en": "Coca-Cola 330ml",
        "category": CategoryFactory(),
        "supplier": SupplierFactory(),
        "purchase_price": Decimal("1.80"),
        "selling_price": Decimal("2.50"),
    }
    fields.update(overrides)
    return fields


def errors_of(**overrides) -> dict:
    with pytest.raises(ValidationError) as caught:
        product_create(**valid_fields(**overrides))
    return caught.value.message_dict


def test_a_valid_product_is_created_with_its_barcode_normalized():
    product = product_create(**valid_fields(barcode="036000291452"))
    assert product.barcode == "0036000291452"


def test_duplicate_barcode_is_a_field_error_and_writes_nothing():
    ProductFactory(barcode=ean13(7))
    errors = errors_of(barcode=ean13(7))
    assert list(errors) == ["barcode"]
    assert Product.objects.count() == 1


def test_upc_a_and_its_ean13_form_are_the_same_barcode():
    ProductFactory(barcode="0036000291452")
    assert "barcode" in errors_of(barcode="036000291452")


def test_barcode_with_wrong_check_digit_names_the_right_digit():
    errors = errors_of(barcode="6901234567893")
    assert "should be 2" in errors["barcode"][0]
    assert Product.objects.count() == 0


def test_negative_price_is_a_field_error():
    errors = errors_of(selling_price=Decimal("-1.00"))
    assert list(errors) == ["selling_price"]
    assert Product.objects.count() == 0


@pytest.mark.parametrize("price", ["abc", "12.345", "1,299.00"])
def test_malformed_selling_price_is_a_field_error(price):
    errors = errors_of(selling_price=price)
    assert list(errors) == ["selling_price"]
    assert Product.objects.count() == 0


def test_unknown_category_is_a_field_error():
    fields = valid_fields()
    del fields["category"]
    with pytest.raises(ValidationError) as caught:
        product_create(category_id=999_999, **fields)
    assert list(caught.value.message_dict) == ["category"]
    assert Product.objects.count() == 0


def test_bad_extra_barcode_rolls_back_the_product_too():
    with pytest.raises(ValidationError):
        product_create(extra_barcodes=[("6901234567893", 24)], **valid_fields())
    assert Product.objects.count() == 0
    assert ProductBarcode.objects.count() == 0


def test_extra_barcode_cannot_repeat_a_main_barcode():
    other = ProductFactory()
    with pytest.raises(ValidationError) as caught:
        product_create(extra_barcodes=[(other.barcode, 6)], **valid_fields())
    assert "barcode" in caught.value.message_dict
    assert Product.objects.count() == 1


def test_store_code_cannot_be_another_products_barcode_or_extra_barcode():
    main = ProductFactory(name="速冻水饺")
    extra = ProductBarcodeFactory(product__name="整箱啤酒")
    assert errors_of(store_code=main.barcode) == {
        "store_code": [f"Code {main.barcode} is already the barcode of {main}."]
    }
    assert errors_of(store_code=extra.barcode) == {
        "store_code": [f"Code {extra.barcode} is already an extra barcode of {extra.product}."]
    }
    assert Product.objects.count() == 2


def test_barcode_cannot_be_another_products_store_code():
    bananas = ProductFactory(store_code="4011")
    assert errors_of(barcode="4011") == {"barcode": [f"Code 4011 is already the store code of {bananas}."]}
    with pytest.raises(ValidationError) as caught:
        product_create(extra_barcodes=[("4011", 6)], **valid_fields())
    assert list(caught.value.message_dict) == ["barcode"]
    assert Product.objects.count() == 1


def test_a_store_code_is_kept_trimmed_in_capitals_and_blank_is_none():
    assert product_create(**valid_fields(store_code=" a12 ")).store_code == "A12"
    assert product_create(**valid_fields(barcode=ean13(2), store_code="  ")).store_code is None


def test_top_level_category_names_are_unique_in_the_database_too():
    category_create(name="饮料")
    with pytest.raises(ValidationError):
        category_create(name="饮料")
    with pytest.raises(IntegrityError), transaction.atomic():
        Category.objects.create(name="饮料")  # past validation, as a bulk write would be
    assert Category.objects.filter(name="饮料").count() == 1


def test_price_change_is_recorded_in_history_with_the_user(django_user_model):
    buyer = django_user_model.objects.create_user("buyer")
    product = ProductFactory(selling_price=Decimal("4.50"))
    product_update(product=product, user=buyer, selling_price=Decimal("4.80"))
    latest = product.history.first()
    assert latest.selling_price == Decimal("4.80")
    assert latest.history_user == buyer
    assert latest.prev_record.selling_price == Decimal("4.50")


def test_a_product_whose_codes_did_not_change_is_not_checked_against_the_others_again(db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    other = ProductFactory(store_code="10013")
    product = Product.objects.get(pk=ProductFactory(store_code="20024").pk)
    product.purchase_price = Decimal("3.6000")  # a receipt's moving average
    with CaptureQueriesContext(connection) as queries:
        product.full_clean()
    # Only Django's own uniqueness checks, each code against its own column.
    crossed = [f"\"barcode\" = '{product.store_code}'", f"\"store_code\" = '{product.barcode}'", "productbarcode"]
    assert not [q["sql"] for q in queries.captured_queries if any(part in q["sql"] for part in crossed)]

    product.store_code = other.barcode  # changed: checked, and refused
    with pytest.raises(ValidationError, match="already the barcode of"):
        product.full_clean()
