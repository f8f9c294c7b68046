import threading
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from stock import stocktake, transfers
from stock.models import CountLine, CountSession, MovementKind, StockLevel, StockMovement, Transfer, WriteOff
from stock.receiving import receipt_post, receipt_scan, receipt_start
from stock.services import Move, stock_move_batch
from stock.stocktake import count_add, count_post, count_session_start
from stock.transfers import DocumentLine, transfer_create, write_off_create
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


def meet_once(barrier: threading.Barrier, real: Callable) -> Callable:
    """`real`, made to wait (each thread once) for the other thread to get this far too. With a lock taken
    before, the other thread cannot come: the wait times out and the first goes on alone."""
    seen = threading.local()

    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        if not getattr(seen, "done", False):
            seen.done = True
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
        return result

    return wrapped


@pytest.mark.django_db(transaction=True)
def test_opposite_transfers_at_the_same_moment_both_post(floor, backroom, monkeypatch):
    product = ProductFactory()
    stock_move_batch(moves=[Move(product, floor, Decimal(10)), Move(product, backroom, Decimal(10))], kind="receipt")
    # Each transfer pauses after its outgoing side, holding those rows, until the other has done its own.
    monkeypatch.setattr(transfers, "stock_move_batch", meet_once(threading.Barrier(2, timeout=3), stock_move_batch))
    routes = [(floor, backroom), (backroom, floor)]

    def move(i):
        source, destination = routes[i]
        transfer_create(source=source, destination=destination, lines=[DocumentLine(product, Decimal(1))])

    assert run_threads(move, 2) == []  # not a deadlock
    assert Transfer.objects.count() == 2
    assert [StockLevel.objects.get(product=product, location=loc).on_hand for loc in (floor, backroom)] == [10, 10]
    call_command("check_stock_ledger")


@pytest.mark.django_db(transaction=True)
def test_a_count_started_twice_at_once_is_opened_once(floor, monkeypatch):
    # Both starts pause between reading the scope and looking for open sessions.
    monkeypatch.setattr(
        stocktake, "_with_subcategories", meet_once(threading.Barrier(2, timeout=3), stocktake._with_subcategories)
    )
    sessions = []
    assert run_threads(lambda _i: sessions.append(count_session_start(location=floor)), 2) == []
    assert CountSession.objects.count() == 1
    assert sessions[0] == sessions[1]


@pytest.mark.django_db(transaction=True)
def test_a_write_off_posted_twice_at_once_with_one_token_is_posted_once(floor):
    product = ProductFactory()
    stock_move_batch(moves=[Move(product, floor, Decimal(10))], kind=MovementKind.RECEIPT)
    token = uuid.uuid4()
    repeats = []

    def post(_i):
        try:
            write_off_create(location=floor, reason="damaged", lines=[DocumentLine(product, Decimal(6))], token=token)
        except transfers.AlreadyPosted as exc:
            repeats.append(exc.document)

    assert run_threads(post, 2) == []  # the second waits on the token's unique index, then finds the first
    assert repeats == [WriteOff.objects.get()]
    assert StockLevel.objects.get(product=product, location=floor).on_hand == 4
