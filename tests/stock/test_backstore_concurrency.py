import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from stock.models import CountLine, MovementKind, StockLevel, StockMovement
from stock.receiving import receipt_post, receipt_scan, receipt_start
from stock.services import Move, stock_move_batch
from stock.stocktake import count_add, count_post, count_session_start
from tests.factories import ProductFactory

COUNTERS = 6
SCANS = 20


def run_threads(target, n):
    barrier = threading.Barrier(n)
    errors = []

    def wrapped(i):
        try:
            barrier.wait()
            target(i)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_several_counters_scanning_while_the_till_sells_lose_no_count(floor, django_user_model):
    products = ProductFactory.create_batch(3)
    stock_move_batch(moves=[Move(p, floor, Decimal(500)) for p in products], kind=MovementKind.RECEIPT)
    users = [django_user_model.objects.create_user(f"counter{i}") for i in range(COUNTERS)]
    session = count_session_start(location=floor)

    def counter(i):
        if i == 0:  # the till keeps selling
            for _ in range(SCANS):
                stock_move_batch(moves=[Move(p, floor, Decimal(-1)) for p in products], kind=MovementKind.SALE)
            return
        for n in range(SCANS):
            count_add(session=session, code=products[n % 3].barcode, user=users[i])

    assert run_threads(counter, COUNTERS) == []
    counted = sum(line.counted for line in CountLine.objects.filter(session=session))
    assert counted == (COUNTERS - 1) * SCANS
    assert CountLine.objects.filter(session=session).count() == 3
    call_command("check_stock_ledger")


@pytest.mark.django_db(transaction=True)
def test_posting_the_same_receipt_from_two_phones_posts_it_once(floor):
    product = ProductFactory()
    receipt = receipt_start(location=floor, reason="concurrency")
    receipt_scan(receipt=receipt, code=product.barcode)
    outcomes = []

    def post(_i):
        try:
            receipt_post(receipt=receipt)
            outcomes.append("posted")
        except ValidationError as exc:
            outcomes.append(" ".join(exc.messages))

    assert run_threads(post, 2) == []
    assert sorted(outcomes)[1] == "posted" and "already posted" in sorted(outcomes)[0]
    assert StockLevel.objects.get(product=product, location=floor).on_hand == 1
    assert StockMovement.objects.filter(product=product).count() == 1


@pytest.mark.django_db(transaction=True)
def test_posting_a_count_twice_at_once_adjusts_once(floor):
    product = ProductFactory()
    stock_move_batch(moves=[Move(product, floor, Decimal(10))], kind=MovementKind.RECEIPT)
    session = count_session_start(location=floor)
    count_add(session=session, code=product.barcode, quantity=Decimal(7))
    refusals = []

    def post(_i):
        try:
            count_post(session=session)
        except ValidationError as exc:
            refusals.append(exc)

    assert run_threads(post, 2) == []
    assert len(refusals) == 1
    assert StockLevel.objects.get(product=product, location=floor).on_hand == 7
    call_command("check_stock_ledger")
