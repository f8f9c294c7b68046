import json
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command

from catalog import gtin
from checkout.models import Sale
from checkout.services import api_token_for, shift_close
from stock.models import MovementKind, StockLevel, StockMovement
from stock.services import stock_move
from tests.factories import ProductBarcodeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, cashier):
    key = api_token_for(cashier).key

    def call(method: str, path: str, body=None, **headers):
        headers.setdefault("HTTP_AUTHORIZATION", f"Token {key}")
        if body is None:
            return getattr(client, method)(path, **headers)
        data = body if isinstance(body, str) else json.dumps(body)
        return getattr(client, method)(path, data=data, content_type="application/json", **headers)

    return call


def sale_body(product, quantity="1", amount=None, **extra):
    body = {
        "client_token": str(uuid.uuid4()),
        "lines": [{"code": product.barcode, "quantity": quantity}],
        "payments": [{"method": "cash", "amount": amount or str(product.selling_price * Decimal(quantity))}],
    }
    body.update(extra)
    return body


def test_product_by_barcode_with_on_hand_per_location(api, stocked, backroom):
    (product,) = stocked(1, on_hand=Decimal(7))
    stock_move(product=product, location=backroom, quantity=Decimal("2.5"), kind=MovementKind.RECEIPT)
    response = api("get", f"/api/products/{product.barcode}")
    assert response.status_code == 200
    body = response.json()
    assert body["barcode"] == product.barcode
    assert body["selling_price"] == str(product.selling_price)
    assert body["on_hand"] == [
        {"location": backroom.code, "name": backroom.name, "on_hand": "2.500"},
        {"location": "FLOOR", "name": "卖场 Store floor", "on_hand": "7.000"},
    ]


def test_product_by_12_digit_upc_a(api, stocked):
    (product,) = stocked(1, barcode="0036000291452")
    response = api("get", "/api/products/036000291452")
    assert response.status_code == 200
    assert response.json()["barcode"] == "0036000291452"


def test_product_by_variable_measure_label(api, stocked):
    (product,) = stocked(1, store_code="12345", unit="kg", selling_price=Decimal("20.00"))
    label = gtin.with_check_digit("23" + "12345" + "01250")  # 1.250 kg
    response = api("get", f"/api/products/{label}")
    assert response.status_code == 200
    assert response.json()["quantity"] == "1.250"
    assert response.json()["amount"] is None  # a weight label carries no amount: priced at the shelf price


def test_product_wrong_check_digit_is_400_with_the_reason(api):
    response = api("get", "/api/products/6901234567891")
    assert response.status_code == 400
    assert "check digit" in response.json()["error"]


def test_product_valid_unknown_code_is_404(api, db):
    response = api("get", f"/api/products/{gtin.with_check_digit('690999999999')}")
    assert response.status_code == 404


def test_api_without_credentials_is_401(client, db):
    response = client.get("/api/products/6901234567892")
    assert response.status_code == 401
    assert "Token" in response.json()["error"]


def test_api_with_a_wrong_token_is_401(api, db):
    assert api("get", "/api/sales/X", HTTP_AUTHORIZATION="Token nope").status_code == 401


def test_sale_post_is_201_then_200_with_the_same_body(api, stocked, floor):
    (product,) = stocked(1, on_hand=Decimal(10))
    body = sale_body(product, quantity="2", amount="10.00")
    first = api("post", "/api/sales", body)
    assert first.status_code == 201
    assert first.json()["change"] == "1.00"
    assert first.json()["register"] == "WEB"
    second = api("post", "/api/sales", body)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert Sale.objects.count() == 1
    assert StockLevel.objects.get(product=product, location=floor).on_hand == 8


def test_same_token_with_other_lines_or_payments_is_409_and_changes_nothing(api, stocked, floor):
    first_product, other_product = stocked(2, on_hand=Decimal(10))
    body = sale_body(first_product, quantity="2", amount="10.00")
    first = api("post", "/api/sales", body)
    assert first.status_code == 201
    for changed in (
        {**body, "lines": [{"code": other_product.barcode, "quantity": "2"}]},
        {**body, "lines": [{"code": first_product.barcode, "quantity": "3"}]},
        {**body, "payments": [{"method": "card", "amount": body["payments"][0]["amount"]}]},
    ):
        response = api("post", "/api/sales", changed)
        assert response.status_code == 409, response.json()
        assert response.json()["field"] == "client_token"
        assert first.json()["number"] in response.json()["error"]
    assert Sale.objects.count() == 1
    assert StockLevel.objects.get(product=first_product, location=floor).on_hand == 8
    assert StockLevel.objects.get(product=other_product, location=floor).on_hand == 10
    assert api("post", "/api/sales", body).json() == first.json()


def test_retry_of_a_sale_whose_product_was_retired_since_still_gets_the_sale(api, stocked):
    (product,) = stocked(1, on_hand=Decimal(10))
    body = sale_body(product, amount="10.00")
    first = api("post", "/api/sales", body)
    product.active = False
    product.save()
    retry = api("post", "/api/sales", body)
    assert retry.status_code == 200
    assert retry.json() == first.json()


def test_register_taken_out_of_use_stops_selling_at_once(api, stocked, shift):
    (product,) = stocked(1, on_hand=Decimal(10))
    register = shift.register
    assert api("post", "/api/sales", sale_body(product, register=register.code)).status_code == 201
    register.active = False
    register.save()
    response = api("post", "/api/sales", sale_body(product, register=register.code))
    assert response.status_code == 400
    assert response.json()["field"] == "register"


def test_sale_with_a_pack_barcode_sells_the_pack(api, stocked, floor):
    (product,) = stocked(1, on_hand=Decimal(12))
    pack = ProductBarcodeFactory(product=product, pack_quantity=6)
    body = sale_body(product, amount="27.00")
    body["lines"] = [{"code": pack.barcode}]
    response = api("post", "/api/sales", body)
    assert response.status_code == 201, response.json()
    assert response.json()["lines"][0]["quantity"] == "6.000"
    assert StockLevel.objects.get(product=product, location=floor).on_hand == 6


def test_sale_not_enough_stock_is_409_and_changes_nothing(api, stocked, floor):
    (product,) = stocked(1, on_hand=Decimal(1))
    response = api("post", "/api/sales", sale_body(product, quantity="2"))
    assert response.status_code == 409
    assert "1 left, 2 requested" in response.json()["error"]
    assert Sale.objects.count() == 0
    assert StockMovement.objects.filter(kind="sale").count() == 0


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.update(client_token="not-a-uuid"), "client_token"),
        (lambda b: b.update(lines=[]), "lines"),
        (lambda b: b["lines"][0].update(code="6901234567891"), "lines[0].code"),
        (lambda b: b["lines"][0].update(code=gtin.with_check_digit("690999999999")), "lines[0].code"),
        (lambda b: b["lines"][0].update(quantity="abc"), "lines[0].quantity"),
        (lambda b: b["lines"][0].update(quantity="-1"), "lines[0].quantity"),
        (lambda b: b.update(payments=[{"method": "cash", "amount": "1.00"}]), "payments"),
        (lambda b: b.update(payments=[{"method": "gold", "amount": "100"}]), "payments[0].method"),
        (lambda b: b.update(payments=[{"method": "cash", "amount": True}]), "payments[0].amount"),
        (lambda b: b.update(payments=[{"method": "cash", "amount": "100.001"}]), "payments[0].amount"),
        (lambda b: b.update(register="NOPE"), "register"),
        (lambda b: b.update(lines="x"), "lines"),
        (lambda b: b["lines"][0].update(quantity="1E+999999999"), "lines[0].quantity"),
        (lambda b: b.update(payments=[{"method": "cash", "amount": "-1E+1000000"}]), "payments[0].amount"),
    ],
)
def test_malformed_sale_is_400_naming_the_field(api, stocked, mutate, field):
    (product,) = stocked(1, on_hand=Decimal(10))
    body = sale_body(product, amount="100.00")
    mutate(body)
    response = api("post", "/api/sales", body)
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert Sale.objects.count() == 0
    assert StockMovement.objects.filter(kind="sale").count() == 0


def test_weighed_goods_cannot_be_split_into_lines_too_small_to_cost_a_fen(api, stocked, floor):
    (fish,) = stocked(1, on_hand=Decimal(5), unit="kg", selling_price=Decimal("4.79"))
    body = sale_body(fish, quantity="0.001", amount="1.00")
    body["lines"] = body["lines"] * 1000  # a kilogram, a gram a line: each line rounds to ¥0.00
    response = api("post", "/api/sales", body)
    assert response.status_code == 400
    assert response.json()["field"] == "lines[0].quantity"
    assert "less than ¥0.01" in response.json()["error"]
    assert Sale.objects.count() == 0
    assert StockLevel.objects.get(product=fish, location=floor).on_hand == 5

    body = sale_body(fish, quantity="0.002", amount="1.00")  # ¥0.01: the line costs something, and sells
    assert api("post", "/api/sales", body).status_code == 201


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["payments"][0].update(reference="a\x00b"), "payments[0].reference"),
        (lambda b: b.update(register="T\x0001"), "register"),
        (lambda b: b["lines"][0].update(code="\x00"), "lines[0].code"),
    ],
)
def test_a_nul_character_anywhere_in_a_sale_is_400_naming_the_field(api, stocked, mutate, field):
    (product,) = stocked(1, on_hand=Decimal(10))
    body = sale_body(product, amount="100.00")
    mutate(body)
    response = api("post", "/api/sales", body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert "NUL character" in response.json()["error"]
    assert Sale.objects.count() == 0
    assert api("get", "/api/sales/A%00").status_code == 400


def test_body_that_is_not_json_is_400(api, db):
    response = api("post", "/api/sales", "{not json")
    assert response.status_code == 400
    assert response.json()["field"] == "body"


def test_sale_to_a_register_with_a_closed_shift_is_409(api, stocked, shift, cashier):
    (product,) = stocked(1, on_hand=Decimal(10))
    shift_close(shift=shift, counted_cash=Decimal("200"), user=cashier)
    response = api("post", "/api/sales", sale_body(product, register="T01"))
    assert response.status_code == 409
    assert response.json()["field"] == "register"
    assert Sale.objects.count() == 0


def test_sale_to_a_register_with_an_open_shift(api, stocked, shift):
    (product,) = stocked(1, on_hand=Decimal(10))
    response = api("post", "/api/sales", sale_body(product, register="T01"))
    assert response.status_code == 201
    assert response.json()["shift"] == shift.pk


def test_get_sale_by_number(api, stocked):
    (product,) = stocked(1, on_hand=Decimal(10))
    created = api("post", "/api/sales", sale_body(product)).json()
    response = api("get", f"/api/sales/{created['number']}")
    assert response.status_code == 200
    assert response.json() == created
    assert api("get", "/api/sales/WEB-20000101-000000").status_code == 404


def test_session_user_can_read_but_must_send_csrf_to_write(client, cashier, stocked):
    (product,) = stocked(1, on_hand=Decimal(10))
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(cashier)
    assert csrf_client.get(f"/api/products/{product.barcode}").status_code == 200
    response = csrf_client.post("/api/sales", data=json.dumps(sale_body(product)), content_type="application/json")
    assert response.status_code == 403
    assert Sale.objects.count() == 0


def test_api_token_command_prints_the_same_token_each_time(cashier, capsys):
    call_command("api_token", "cashier1")
    first = capsys.readouterr().out.strip()
    call_command("api_token", "cashier1")
    assert capsys.readouterr().out.strip() == first
    assert len(first) == 40


def test_json_number_amounts_are_read_exactly_as_decimals(api, stocked):
    (product,) = stocked(1, on_hand=Decimal(10), selling_price=Decimal("0.10"))
    body = sale_body(product, quantity="3")
    body["payments"] = [{"method": "cash", "amount": 0.3}]  # as a float 0.1 * 3 != 0.3; as a Decimal it is exact
    response = api("post", "/api/sales", body)
    assert response.status_code == 201, response.json()
    assert response.json()["change"] == "0.00"


def test_a_sale_at_nothing_needs_no_payment_and_any_other_needs_one(api, stocked):
    free, priced = stocked(2, selling_price=Decimal("0.00"))
    priced.selling_price = Decimal("2.00")
    priced.save()
    body = sale_body(free)
    del body["payments"]
    response = api("post", "/api/sales", body)
    assert response.status_code == 201
    assert (response.json()["total"], response.json()["payments"]) == ("0.00", [])

    body = sale_body(priced, payments=[])
    response = api("post", "/api/sales", body)
    assert response.status_code == 400
    assert response.json()["field"] == "payments"
    assert not Sale.objects.filter(client_token=body["client_token"]).exists()
