from decimal import Decimal

import pytest
from django.urls import reverse

from stock.models import MovementKind
from stock.services import stock_move
from tests.factories import ProductBarcodeFactory, ProductFactory

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
