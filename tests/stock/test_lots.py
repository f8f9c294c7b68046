from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from stock.models import Lot, MovementKind, StockLevel, StockMovement
from stock.selectors import ledger_mismatches
from stock.services import ExpiredStock, InsufficientStock, Move, stock_move_batch
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def milk(floor):
    product = ProductFactory(name="鲜牛奶", lot_tracked=True)
    today = timezone.localdate()
    lots = {
        "late": Lot.objects.create(product=product, code="L-LATE", expiry_date=today + timedelta(days=9)),
        "soon": Lot.objects.create(product=product, code="L-SOON", expiry_date=today + timedelta(days=2)),
        "old": Lot.objects.create(product=product, code="L-OLD", expiry_date=today - timedelta(days=1)),
    }
    stock_move_batch(moves=[Move(product, floor, Decimal(5), lot) for lot in lots.values()], kind=MovementKind.RECEIPT)
    product.lots_by_name = lots
    return product


def lot_on_hand(product, lot) -> Decimal:
    return StockLevel.objects.get(product=product, lot=lot).on_hand


def test_sale_takes_the_lot_that_expires_first_skipping_expired(milk, floor):
    rows = stock_move_batch(moves=[Move(milk, floor, Decimal(-7))], kind=MovementKind.SALE)
    lots = milk.lots_by_name
    assert [(r.lot, r.quantity) for r in rows] == [(lots["soon"], -5), (lots["late"], -2)]
    assert lot_on_hand(milk, lots["soon"]) == 0
    assert lot_on_hand(milk, lots["late"]) == 3
    assert lot_on_hand(milk, lots["old"]) == 5
    assert ledger_mismatches() == []


def test_only_expired_stock_left_is_refused_unless_allowed(milk, floor):
    stock_move_batch(moves=[Move(milk, floor, Decimal(-10))], kind=MovementKind.SALE)
    with pytest.raises(ExpiredStock, match="L-OLD"):
        stock_move_batch(moves=[Move(milk, floor, Decimal(-1))], kind=MovementKind.SALE)
    assert StockMovement.objects.filter(kind=MovementKind.SALE).count() == 2
    rows = stock_move_batch(moves=[Move(milk, floor, Decimal(-1))], kind=MovementKind.SALE, allow_expired=True)
    assert rows[0].lot == milk.lots_by_name["old"]


def test_selling_past_the_stock_still_refuses_goods_that_may_be_the_expired_ones(milk, floor):
    stock_move_batch(moves=[Move(milk, floor, Decimal(-10))], kind=MovementKind.SALE)  # only the expired lot left
    old = lot_on_hand(milk, milk.lots_by_name["old"])
    wanted = Decimal(old + 1)  # more than the expired lot holds, as a sale allowed below zero may take
    with pytest.raises(ExpiredStock, match="L-OLD"):
        stock_move_batch(moves=[Move(milk, floor, -wanted)], kind=MovementKind.SALE, allow_negative=True)
    assert lot_on_hand(milk, milk.lots_by_name["old"]) == old
    stock_move_batch(
        moves=[Move(milk, floor, -wanted)], kind=MovementKind.SALE, allow_negative=True, allow_expired=True
    )
    assert lot_on_hand(milk, milk.lots_by_name["old"]) == 0
    assert StockLevel.objects.get(product=milk, location=floor, lot=None).on_hand == -1
    assert ledger_mismatches() == []


def test_more_than_all_lots_hold_is_insufficient(milk, floor):
    with pytest.raises(InsufficientStock) as caught:
        stock_move_batch(moves=[Move(milk, floor, Decimal(-16))], kind=MovementKind.SALE, allow_expired=True)
    assert not isinstance(caught.value, ExpiredStock)
    assert sum(lv.on_hand for lv in StockLevel.objects.filter(product=milk)) == 15
