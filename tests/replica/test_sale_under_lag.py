import json
import uuid
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client

from checkout.models import Sale
from checkout.services import api_token_for
from stock.models import Location, MovementKind
from stock.services import stock_move
from supermarket.roles import CASHIER, user_set_role
from tests.factories import ProductFactory
from tests.replica.conftest import wait_for_replica


def sell(client: Client, key: str, product) -> dict:
    body = {
        "client_token": str(uuid.uuid4()),
        "lines": [{"code": product.barcode, "quantity": "2"}],
        "payments": [{"method": "cash", "amount": "100.00"}],
    }
    response = client.post(
        "/api/sales", data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_sale_and_its_receipt_are_right_while_the_replica_lags_and_reports_read_the_replica(live):
    floor = Location.default()
    cashier = get_user_model().objects.create_user("lag-cashier", password="x")
    user_set_role(user=cashier, role=CASHIER)
    key = api_token_for(cashier).key
    earlier, now = ProductFactory(name="早先售出 Sold earlier"), ProductFactory(name="刚刚售出 Sold just now")
    for product in (earlier, now):
        stock_move(product=product, location=floor, quantity=Decimal(10), kind=MovementKind.RECEIPT)
    till = Client()
    sell(till, key, earlier)
    office = Client()
    office.force_login(get_user_model().objects.create_superuser("lag-boss", password="x"))
    wait_for_replica()

    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")
    try:
        sale = sell(till, key, now)
        assert not Sale.objects.using("replica").filter(number=sale["number"]).exists()  # the replica really lags
        # The receipt, right after the sale, from the till that made it: read from the primary.
        page = till.get(f"/api/sales/{sale['number']}", HTTP_AUTHORIZATION=f"Token {key}")
        assert page.status_code == 200
        assert [(line["name"], line["quantity"]) for line in page.json()["lines"]] == [(now.name, "2.000")]
        assert page.json()["total"] == sale["total"]

        # A report is served from the replica: it has the earlier sale, not the ones it has not replayed yet.
        report = office.get("/reports/top-sellers/", {"format": "csv"})
        assert report.status_code == 200
        text = report.content.decode("utf-8-sig")
        assert earlier.name in text and now.name not in text
    finally:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_wal_replay_resume()")
    wait_for_replica()
    assert Sale.objects.using("replica").filter(number=sale["number"]).exists()
