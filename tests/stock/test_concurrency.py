import random
import threading
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from stock.models import MovementKind, StockLevel, StockMovement
from stock.selectors import ledger_mismatches
from stock.services import InsufficientStock, Move, stock_move_batch
from tests.factories import ProductFactory

THREADS = 16
SALES_PER_THREAD = 25


@pytest.mark.django_db(transaction=True)
def test_sixteen_tills_selling_the_same_products_lose_no_update(floor):
    products = ProductFactory.create_batch(4)
    start = Decimal(300)
    stock_move_batch(moves=[Move(p, floor, start) for p in products], kind=MovementKind.RECEIPT)
    sold = {p.pk: Decimal(0) for p in products}
    refused = []
    errors = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def till(seed: int):
        rng = random.Random(seed)
        try:
            barrier.wait()
            for _ in range(SALES_PER_THREAD):
                # Lines in random order: the service must still lock in a fixed order (no deadlock).
                lines = rng.sample(products, k=rng.randint(1, len(products)))
                quantities = {p.pk: Decimal(rng.randint(1, 3)) for p in lines}
                try:
                    stock_move_batch(moves=[Move(p, floor, -quantities[p.pk]) for p in lines], kind=MovementKind.SALE)
                except InsufficientStock:
                    with lock:
                        refused.append(seed)
                    continue
                with lock:
                    for pk, q in quantities.items():
                        sold[pk] += q
        except Exception as exc:  # surfaced below: a deadlock or lost update must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=till, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    for product in products:
        level = StockLevel.objects.get(product=product, location=floor)
        assert level.on_hand == start - sold[product.pk]
        assert level.on_hand >= 0
    assert StockMovement.objects.filter(kind=MovementKind.SALE).count() > 0
    call_command("check_stock_ledger")


@pytest.mark.django_db(transaction=True)
def test_concurrent_sales_of_the_last_units_never_go_below_zero(floor):
    product = ProductFactory()
    stock_move_batch(moves=[Move(product, floor, Decimal(10))], kind=MovementKind.RECEIPT)
    outcomes = []
    barrier = threading.Barrier(THREADS)

    def till():
        barrier.wait()
        try:
            stock_move_batch(moves=[Move(product, floor, Decimal(-1))], kind=MovementKind.SALE)
            outcomes.append("sold")
        except InsufficientStock:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=till) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert outcomes.count("sold") == 10 and outcomes.count("refused") == THREADS - 10
    assert StockLevel.objects.get(product=product, location=floor).on_hand == 0
    call_command("check_stock_ledger")


@pytest.mark.django_db(transaction=True)
def test_the_ledger_check_sees_no_mismatch_while_sales_commit(floor):
    products = ProductFactory.create_batch(3)
    stock_move_batch(moves=[Move(p, floor, Decimal(10_000)) for p in products], kind=MovementKind.RECEIPT)
    selling = threading.Event()
    errors = []

    def till(seed: int):
        rng = random.Random(seed)
        try:
            while not selling.is_set():
                lines = rng.sample(products, k=2)
                stock_move_batch(moves=[Move(p, floor, Decimal(-1)) for p in lines], kind=MovementKind.SALE)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=till, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        # Each check reads the movements, then the levels: sales commit between the two reads all the time. At
        # least 30 checks, and on until the tills have sold more than 30 times (a slow machine starts them late).
        checks, deadline = [], time.monotonic() + 60
        while len(checks) < 30 or (
            StockMovement.objects.filter(kind=MovementKind.SALE).count() <= 30 and time.monotonic() < deadline
        ):
            checks.append(ledger_mismatches())
    finally:
        selling.set()
        for t in threads:
            t.join()
    assert errors == []
    assert StockMovement.objects.filter(kind=MovementKind.SALE).count() > 30
    assert checks == [[]] * len(checks)
