import json
import random
import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client

from checkout.models import Payment, Sale, SaleLine
from checkout.services import api_token_for
from reports.models import SalesDaily
from stock.models import StockLevel, StockMovement
from stock.selectors import ledger_mismatches

THREADS = 12  # six pairs: both threads of a pair send the same tokens at the same moment
SALES_PER_THREAD = 10


@pytest.mark.django_db(transaction=True)
def test_many_clients_retrying_every_token_make_exactly_one_sale_each(cashier, stocked, floor):
    start = Decimal(1000)
    hot = stocked(4, on_hand=start, selling_price=Decimal("2.50"))
    key = api_token_for(cashier).key
    rng = random.Random(7)
    batches = []
    for _pair in range(THREADS // 2):
        batch = []
        for _ in range(SALES_PER_THREAD):
            # Lines in random order: the stock service must still lock in one order (no deadlock).
            products = rng.sample(hot, k=rng.randint(1, 4))
            lines = [{"code": p.barcode, "quantity": str(rng.randint(1, 3))} for p in products]
            total = sum(Decimal(line["quantity"]) * Decimal("2.50") for line in lines)
            batch.append(
                {
                    "client_token": str(uuid.uuid4()),
                    "lines": lines,
                    "payments": [{"method": "cash", "amount": str(total + 1)}],
                }
            )
        batches.append(batch)
    results: dict[str, list[tuple[int, str]]] = {}
    errors = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def client_thread(batch):
        client = Client(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            barrier.wait()
            for body in batch:
                response = client.post("/api/sales", data=json.dumps(body), content_type="application/json")
                with lock:
                    results.setdefault(body["client_token"], []).append(
                        (response.status_code, response.json().get("number"))
                    )
        except Exception as exc:  # surfaced below: a deadlock or a 500 must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=client_thread, args=(batches[i // 2],)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert len(results) == THREADS // 2 * SALES_PER_THREAD
    for token, answers in results.items():
        statuses = sorted(status for status, _number in answers)
        assert statuses == [200, 201], (token, answers)
        assert answers[0][1] == answers[1][1]
        assert Sale.objects.filter(client_token=token).count() == 1
    assert Sale.objects.count() == len(results)
    assert Payment.objects.count() == len(results)
    for product in hot:
        sold = SaleLine.objects.filter(product=product).aggregate(q=Sum("quantity"))["q"] or Decimal(0)
        assert StockLevel.objects.get(product=product, location=floor).on_hand == start - sold
        assert -StockMovement.objects.filter(product=product, kind="sale").aggregate(q=Sum("quantity"))["q"] == sold
        assert SalesDaily.objects.get(product=product).quantity == sold
    assert ledger_mismatches() == []
