import json
import random
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.forms import model_to_dict
from django.test import Client
from django.utils import timezone

from checkout.admin import PromotionForm
from checkout.models import Cart, CartLine, Payment, Promotion, Sale, SaleLine
from checkout.pricing import PromotionSoldOut
from checkout.promotions import promotion_claim
from checkout.services import api_token_for, cart_hold, cart_recall, cart_start
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


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0]


def _wait_for_lock_waiters(count: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _lock_waiters() >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{count} requests never waited for the stock row")


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_waiting_for_the_stock_the_first_request_took_gets_the_first_sale(cashier, stocked, floor):
    """Both requests pass the token check before either commits; one takes the last unit while the other waits for
    the stock row. The other answers with that sale, not with 'not enough stock'."""
    (product,) = stocked(1, on_hand=Decimal(1), selling_price=Decimal("2.50"))
    level = StockLevel.objects.get(product=product, location=floor)
    key = api_token_for(cashier).key
    body = json.dumps(
        {
            "client_token": str(uuid.uuid4()),
            "lines": [{"code": product.barcode}],
            "payments": [{"method": "cash", "amount": "5.00"}],
        }
    )
    answers, errors = [], []

    def post():
        try:
            response = Client(HTTP_AUTHORIZATION=f"Token {key}").post(
                "/api/sales", data=body, content_type="application/json"
            )
            answers.append((response.status_code, response.json()))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    with transaction.atomic():
        # The stock row held here: both requests get past the token check, then wait for it.
        StockLevel.objects.select_for_update().get(pk=level.pk)
        for t in threads:
            t.start()
        _wait_for_lock_waiters(2)
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(status for status, _body in answers) == [200, 201], answers
    assert answers[0][1]["number"] == answers[1][1]["number"]
    assert Sale.objects.count() == 1
    assert StockLevel.objects.get(pk=level.pk).on_hand == 0
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_a_promotional_limit_lowered_while_a_sale_claims_units_is_either_refused_or_holds(stocked):
    """The admin checks the new limit against what has sold and saves it in one transaction. A sale claiming units
    in between waits for that save, then finds the lower limit: it is refused, and the save never fails on the
    database's check (which was a server error)."""
    (product,) = stocked(1)
    now = timezone.now()
    promotion = Promotion.objects.create(
        name="限量特价",
        kind=Promotion.Kind.FIXED_PRICE,
        value=Decimal("1.00"),
        scope=Promotion.Scope.PRODUCTS,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=1),
        quantity_limit=Decimal(30),
        quantity_sold=Decimal(10),
    )
    promotion.products.set([product])
    data = {**model_to_dict(promotion, fields=PromotionForm.Meta.fields), "quantity_limit": "20"}
    data["products"] = [product.pk]
    claimed = []

    def claim():
        try:
            with transaction.atomic():
                promotion_claim(claims={promotion.pk: Decimal(15)})
            claimed.append("claimed")
        except PromotionSoldOut as exc:
            claimed.append(exc)
        finally:
            connection.close()

    sale = threading.Thread(target=claim)
    with transaction.atomic():  # as the admin's change view
        form = PromotionForm(data, instance=promotion)
        assert form.is_valid(), form.errors
        sale.start()
        deadline = time.monotonic() + 5
        while sale.is_alive() and time.monotonic() < deadline and not _lock_waiters():
            time.sleep(0.02)
        form.save()
    sale.join()

    assert len(claimed) == 1 and isinstance(claimed[0], PromotionSoldOut), claimed
    promotion.refresh_from_db()
    assert (promotion.quantity_limit, promotion.quantity_sold) == (20, 10)


@pytest.mark.django_db(transaction=True)
def test_two_tabs_recalling_held_sales_at_once_take_turns(cashier, register, shift, stocked):
    (item,) = stocked(1)
    carts = []
    for _ in range(3):  # two held sales and the one open now
        cart = cart_start(register=register, user=cashier)
        CartLine.objects.create(cart=cart, product=item, quantity=Decimal(1))
        carts.append(cart)
        if len(carts) < 3:
            cart_hold(cart=cart)
    first, second, current = carts
    errors = []

    def recall_second():
        try:
            cart_recall(register=register, cart_id=second.pk, user=cashier)
        except Exception as exc:  # surfaced below: the one-open-cart constraint was a server error
            errors.append(exc)
        finally:
            connection.close()

    other_tab = threading.Thread(target=recall_second)
    with transaction.atomic():
        cart_recall(register=register, cart_id=first.pk, user=cashier)
        other_tab.start()
        _wait_for_lock_waiters(1)
    other_tab.join()

    assert errors == []
    status = dict(Cart.objects.values_list("pk", "status"))
    assert status == {first.pk: "held", second.pk: "open", current.pk: "held"}
