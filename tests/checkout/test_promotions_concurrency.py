import random
import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from checkout.models import Promotion, Register, Sale, SaleLine
from checkout.pricing import CheckoutError, LineInput, PaymentInput, PromotionSoldOut, price_lines
from checkout.services import sale_complete
from stock.models import StockLevel
from stock.selectors import ledger_mismatches
from tests.checkout.promotion_helpers import fresh_rules, make_promotion  # noqa: F401 (autouse fixture)
from tests.factories import CategoryFactory

CLIENTS = 50
LIMIT = Decimal(60)
D = Decimal


@pytest.mark.django_db(transaction=True)
def test_fifty_clients_never_sell_more_than_the_promotional_quantity(stocked, cashier, floor):
    snacks = CategoryFactory()
    chips, nuts = stocked(2, on_hand=D(1000), selling_price=D("8.00"), category=snacks)
    promo = make_promotion(
        "零食半价", Promotion.Kind.PERCENT_OFF, value=D("50"), quantity_limit=LIMIT, categories=[snacks]
    )
    register = Register.online_register()
    rng = random.Random(11)
    # 50 clients each wanting 1-3 of each snack, lines in random order: about 200 units against 60 at half price.
    baskets = []
    for _ in range(CLIENTS):
        items = [(chips, D(rng.randint(1, 3))), (nuts, D(rng.randint(1, 3)))]
        rng.shuffle(items)
        baskets.append(items)
    start = threading.Barrier(CLIENTS)
    refusals, errors = [], []

    def client(items):
        lines = [LineInput(product=p, quantity=q) for p, q in items]
        try:
            start.wait()
            for _attempt in range(30):
                # Priced as a till would, just before paying; the sale may find the promotion ran out meanwhile.
                total = price_lines(lines).total
                try:
                    sale_complete(
                        client_token=uuid.uuid4(),
                        register=register,
                        lines=lines,
                        payments=[PaymentInput("card", total)],
                        user=cashier,
                    )
                    return
                except PromotionSoldOut:
                    refusals.append(1)
                except CheckoutError as exc:  # the price changed between our pricing and the sale's: pay again
                    assert "do not cover" in exc.message or "exceed the total" in exc.message, exc.message
            errors.append("no sale after 30 attempts")
        except Exception as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(items,)) for items in baskets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    promo.refresh_from_db()
    wanted = sum((q for items in baskets for _p, q in items), D(0))
    assert Sale.objects.count() == CLIENTS
    # Every promotional unit saves exactly 4.00, so the savings count the units sold at the promotional price.
    saving = SaleLine.objects.aggregate(s=Sum("saving"))["s"]
    assert saving / D("4.00") == LIMIT == promo.quantity_sold
    assert SaleLine.objects.aggregate(s=Sum("amount"))["s"] == wanted * D("8.00") - saving
    sold = {p.pk: sum((q for items in baskets for x, q in items if x == p), D(0)) for p in (chips, nuts)}
    for product in (chips, nuts):
        assert StockLevel.objects.get(product=product, location=floor).on_hand == 1000 - sold[product.pk]
    assert list(ledger_mismatches()) == []
    assert refusals, "no sale was ever priced with units another client took: the race was not exercised"
