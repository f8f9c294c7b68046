"""Bad input to the API, the catalog and the scanner: each refused with a message naming what is wrong, and
nothing changed (no sale, no stock movement, no product)."""

import io
import json
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import Client
from PIL import Image

from catalog.models import Product, Unit
from catalog.services import product_create
from checkout.models import Payment, Sale
from checkout.services import api_token_for
from stock.models import MovementKind, StockLevel, StockMovement
from stock.services import Move, stock_move_batch
from supermarket.roles import CASHIER, user_set_role
from tests.factories import CategoryFactory, ProductFactory, ean13

HOSTILE_NAME = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def api(db) -> Client:
    user = get_user_model().objects.create_user("till-api", password="till-api-pass-1")
    user_set_role(user=user, role=CASHIER)
    return Client(HTTP_AUTHORIZATION=f"Token {api_token_for(user).key}")


@pytest.fixture
def goods(floor) -> dict[str, Product]:
    piece = ProductFactory(selling_price=Decimal("4.50"))
    weighed = ProductFactory(selling_price=Decimal("12.80"), unit=Unit.KG)
    stock_move_batch(moves=[Move(p, floor, Decimal(100)) for p in (piece, weighed)], kind=MovementKind.RECEIPT)
    return {"piece": piece, "weighed": weighed}


def snapshot() -> tuple:
    levels = tuple(StockLevel.objects.order_by("pk").values_list("on_hand", flat=True))
    return Sale.objects.count(), Payment.objects.count(), StockMovement.objects.count(), levels


def post_sale(api: Client, lines: list, payments: list):
    body = {"client_token": str(uuid.uuid4()), "lines": lines, "payments": payments}
    return api.post("/api/sales", data=json.dumps(body), content_type="application/json")


def assert_refused(response, status: int, field: str, words: str) -> None:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert body.get("field") == field, body
    assert words in body["error"], body


@pytest.mark.parametrize(
    ("product", "quantity", "words"),
    [
        ("piece", "0", "must be more than zero"),
        ("piece", "-2", "must be more than zero"),
        ("piece", "NaN", "must be a finite number"),
        ("piece", "Infinity", "must be a finite number"),
        ("piece", "1e309", "too large"),
        ("weighed", "1e309", "too large"),
        ("weighed", "0.1234", "more than three decimals"),
        ("piece", "1.5", "whole number"),
        ("piece", True, "decimal number written as a string"),
        ("piece", "two", "is not a number"),
    ],
)
def test_a_bad_quantity_is_refused_naming_the_line_and_changes_nothing(api, goods, product, quantity, words):
    before = snapshot()
    response = post_sale(
        api, [{"code": goods[product].barcode, "quantity": quantity}], [{"method": "cash", "amount": "100.00"}]
    )
    assert_refused(response, 400, "lines[0].quantity", words)
    assert snapshot() == before


def test_a_quantity_of_1e309_as_a_json_number_is_refused(api, goods):
    before = snapshot()
    body = json.dumps({"client_token": str(uuid.uuid4()), "lines": [{"code": goods["piece"].barcode, "quantity": 9}]})
    raw = (
        body.replace('"quantity": 9', '"quantity": 1e309')[:-1] + ', "payments": [{"method": "cash", "amount": "10"}]}'
    )
    response = api.post("/api/sales", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert "lines[0].quantity" in response.json()["field"]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("payments", "field", "words"),
    [
        ([{"method": "cash", "amount": "4.505"}], "payments[0].amount", "at most two decimals"),
        ([{"method": "bitcoin", "amount": "4.50"}], "payments[0].method", "Unknown payment method bitcoin"),
        ([{"method": "cash", "amount": "4.49"}], "payments", "do not cover the total of 4.50"),
        ([{"method": "cash", "amount": "1e309"}], "payments[0].amount", "too large"),
        ([{"method": "cash", "amount": "-5"}], "payments[0].amount", "more than zero"),
    ],
)
def test_a_bad_payment_is_refused_and_changes_nothing(api, goods, payments, field, words):
    before = snapshot()
    response = post_sale(api, [{"code": goods["piece"].barcode, "quantity": "1"}], payments)
    assert_refused(response, 400, field, words)
    assert snapshot() == before


def test_a_price_with_more_than_two_decimals_is_refused_by_the_catalog(db):
    with pytest.raises(ValidationError) as refused:
        product_create(
            barcode=ean13(910_001),
            name="Tea",
            category=CategoryFactory(),
            purchase_price=Decimal("1.0000"),
            selling_price=Decimal("2.345"),
        )
    assert "selling_price" in refused.value.message_dict
    assert not Product.objects.filter(barcode=ean13(910_001)).exists()


VALID = ean13(123_456)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (VALID[:4] + " " + VALID[4:], "neither a barcode"),
        ("40063813339AB", "neither a barcode"),
        ("9" * 50, "has 50 digits"),
        ("".join(chr(0x0660 + int(d)) for d in VALID), "not plain digits"),  # Arabic-Indic digits
        ("".join(chr(0xFF10 + int(d)) for d in VALID), "not plain digits"),  # full-width digits
    ],
)
def test_a_malformed_barcode_is_refused_by_lookup_and_by_a_sale(api, goods, code, words):
    looked_up = api.get(f"/api/products/{code}")
    assert_refused(looked_up, 400, "code", words)
    before = snapshot()
    sold = post_sale(api, [{"code": code, "quantity": "1"}], [{"method": "cash", "amount": "10"}])
    assert_refused(sold, 400, "lines[0].code", words)
    assert snapshot() == before


def test_a_json_body_of_ten_megabytes_is_refused_before_parsing(api, goods):
    before = snapshot()
    padding = "x" * (10 * 1024 * 1024)
    body = json.dumps({"client_token": str(uuid.uuid4()), "lines": [], "payments": [], "note": padding})
    response = api.post("/api/sales", data=body, content_type="application/json")
    assert response.status_code == 413
    assert "too large" in response.json()["error"]
    assert snapshot() == before


def test_an_image_of_20000_by_20000_pixels_is_refused_from_its_header(api):
    image = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(image, format="PNG")
    assert image.tell() < 1_000_000  # a small file: only the pixel count gives it away
    image.seek(0)
    image.name = "huge.png"
    response = api.post("/api/scan", {"image": image})
    assert response.status_code == 413
    assert "pixels" in response.json()["error"]


def test_html_in_a_product_name_is_shown_escaped_in_the_admin_the_api_and_the_receipt(api, goods, admin_client):
    product = goods["piece"]
    product.name = HOSTILE_NAME
    product.save()
    sold = post_sale(api, [{"code": product.barcode, "quantity": "1"}], [{"method": "cash", "amount": "5"}])
    assert sold.status_code == 201
    assert sold.json()["lines"][0]["name"] == HOSTILE_NAME  # JSON carries the text as it is; it is data there
    pages = [
        f"/admin/catalog/product/{product.pk}/change/",
        f"/admin/catalog/product/?q={product.barcode}",
        f"/checkout/sales/{sold.json()['number']}/receipt/",
        f"/admin/checkout/sale/{Sale.objects.get().pk}/change/",
    ]
    for url in pages:
        page = admin_client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(" in html, url
