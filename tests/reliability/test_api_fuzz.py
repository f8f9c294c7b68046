"""Generated requests over the JSON API: whatever arrives, the answer is a deliberate one (never a 500), a refusal
says what is wrong in JSON, and the stock ledger still adds up.

RELIABILITY_FUZZ_EXAMPLES sets the number of generated sale bodies (make test-reliability: 2000; the product
lookups and scans get half and a tenth of that); the ordinary suite runs a quick 200.
"""

import json
import os
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkout.models import PaymentMethod, Sale
from checkout.services import api_token_for
from stock.models import MovementKind
from stock.selectors import ledger_mismatches
from stock.services import Move, stock_move_batch
from supermarket.roles import CASHIER, user_set_role
from tests.factories import ProductFactory

EXAMPLES = int(os.getenv("RELIABILITY_FUZZ_EXAMPLES", "200"))


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))


SALES_STATUSES = {200, 201, 400, 409}

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
any_json = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)
decimal_text = st.decimals(allow_nan=True, allow_infinity=True).map(str) | st.sampled_from(
    ["1", "2", "0.5", "1.000", "1e309", "-1e309", "1E-400", "0", "-0", " 3 ", "1_000", "٣", "0x10", ""]
)
number_like = decimal_text | st.integers() | st.floats() | json_scalars


@pytest.fixture
def shop(db, floor):
    user = get_user_model().objects.create_user("fuzz-api", password="fuzz-api-pass-1")
    user_set_role(user=user, role=CASHIER)
    products = [ProductFactory(selling_price=Decimal("2.00"))] + [ProductFactory(unit="kg") for _ in range(2)]
    stock_move_batch(moves=[Move(p, floor, Decimal(10**6)) for p in products], kind=MovementKind.RECEIPT)
    return Client(HTTP_AUTHORIZATION=f"Token {api_token_for(user).key}"), [p.barcode for p in products]


def sale_bodies(codes: list[str]):
    code = st.sampled_from(codes) | st.text(max_size=60) | json_scalars
    line = st.fixed_dictionaries({"code": code}, optional={"quantity": number_like, "extra": any_json})
    payment = st.fixed_dictionaries(
        {"method": st.sampled_from(PaymentMethod.values) | st.text(max_size=12) | json_scalars},
        optional={"amount": number_like, "reference": st.text(max_size=80) | json_scalars},
    )
    token = st.uuids().map(str) | st.text(max_size=40) | json_scalars
    shaped = st.fixed_dictionaries(
        {},
        optional={
            "client_token": token,
            "lines": st.lists(line, max_size=4) | any_json,
            "payments": st.lists(payment, max_size=3) | any_json,
            "register": st.text(max_size=12) | json_scalars,
        },
    )
    return shaped | any_json


def assert_deliberate(response, allowed: set[int]) -> None:
    assert response.status_code in allowed, (response.status_code, response.content[:300])
    if response.status_code >= 400:
        assert response.json()["error"]


def test_generated_sale_requests_get_no_500_and_keep_the_ledger(shop):
    client, codes = shop

    @fuzz(EXAMPLES)
    @given(body=sale_bodies(codes))
    def post(body):
        response = client.post("/api/sales", data=json.dumps(body), content_type="application/json")
        assert_deliberate(response, SALES_STATUSES)
        if response.status_code == 201:
            assert Sale.objects.filter(number=response.json()["number"]).count() == 1

    post()
    assert ledger_mismatches() == []


def test_generated_raw_bodies_get_no_500(shop):
    client, _codes = shop

    @fuzz(EXAMPLES // 10)
    @given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
    def post(raw):
        assert_deliberate(client.post("/api/sales", data=raw, content_type="application/json"), {400})

    post()


def test_generated_product_codes_get_no_500(shop):
    client, codes = shop

    @fuzz(EXAMPLES // 2)
    @given(code=st.sampled_from(codes) | st.text(min_size=1, max_size=60).filter(lambda c: "/" not in c))
    def lookup(code):
        assert_deliberate(client.get("/api/products/" + quote(code, safe="")), {200, 400, 404})

    lookup()


def test_generated_scan_uploads_get_no_500(shop):
    client, _codes = shop

    @fuzz(EXAMPLES // 10)
    @given(data=st.binary(max_size=2000), name=st.sampled_from(["a.png", "a.jpg", "a.gif", "a", "a.txt", "a.exe"]))
    def upload(data, name):
        from django.core.files.uploadedfile import SimpleUploadedFile

        response = client.post("/api/scan", {"image": SimpleUploadedFile(name, data)})
        assert_deliberate(response, {200, 400, 413, 415, 422})

    upload()
