from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from stock.models import Lot, MovementKind, StockLevel, StockMovement, Transfer, WriteOff
from stock.services import InsufficientStock, Move, stock_move_batch
from stock.transfers import DocumentLine, transfer_create, write_off_create, write_off_expired
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def level(product, location, lot=None) -> Decimal:
    return StockLevel.objects.get(product=product, location=location, lot=lot).on_hand


def test_transfer_moves_stock_as_one_document_with_two_movements(floor, backroom, django_user_model):
    user = django_user_model.objects.create_user("porter")
    rice = ProductFactory()
    stock_move_batch(moves=[Move(rice, backroom, Decimal(40))], kind=MovementKind.RECEIPT)
    transfer = transfer_create(source=backroom, destination=floor, lines=[DocumentLine(rice, Decimal(15))], user=user)
    assert (level(rice, backroom), level(rice, floor)) == (25, 15)
    rows = StockMovement.objects.filter(kind=MovementKind.TRANSFER).order_by("id")
    assert [(r.location, r.quantity, r.document) for r in rows] == [(backroom, -15, transfer), (floor, 15, transfer)]
    call_command("check_stock_ledger")


def test_transfer_of_lot_tracked_goods_carries_the_earliest_lots(floor, backroom):
    milk = ProductFactory(lot_tracked=True)
    today = timezone.localdate()
    soon = Lot.objects.create(product=milk, code="S", expiry_date=today + timedelta(days=2))
    late = Lot.objects.create(product=milk, code="L", expiry_date=today + timedelta(days=8))
    stock_move_batch(
        moves=[Move(milk, backroom, Decimal(4), soon), Move(milk, backroom, Decimal(10), late)], kind="receipt"
    )
    transfer_create(source=backroom, destination=floor, lines=[DocumentLine(milk, Decimal(6))])
    assert (level(milk, floor, soon), level(milk, floor, late)) == (4, 2)
    assert (level(milk, backroom, soon), level(milk, backroom, late)) == (0, 8)
    call_command("check_stock_ledger")


def test_transfer_of_more_than_there_is_writes_nothing(floor, backroom):
    rice = ProductFactory()
    stock_move_batch(moves=[Move(rice, backroom, Decimal(3))], kind=MovementKind.RECEIPT)
    with pytest.raises(InsufficientStock, match="3 left, 5 requested"):
        transfer_create(source=backroom, destination=floor, lines=[DocumentLine(rice, Decimal(5))])
    with pytest.raises(ValidationError, match="two different locations"):
        transfer_create(source=floor, destination=floor, lines=[DocumentLine(rice, Decimal(1))])
    with pytest.raises(ValidationError, match="Line 1 .*more than zero"):
        transfer_create(source=backroom, destination=floor, lines=[DocumentLine(rice, Decimal(-1))])
    assert not Transfer.objects.exists()
    assert level(rice, backroom) == 3


def test_write_off_with_reason_code(floor, django_user_model):
    user = django_user_model.objects.create_user("manager")
    eggs = ProductFactory(purchase_price=Decimal("0.8000"))
    stock_move_batch(moves=[Move(eggs, floor, Decimal(30))], kind=MovementKind.RECEIPT)
    write_off = write_off_create(location=floor, reason="damaged", lines=[DocumentLine(eggs, Decimal(6))], user=user)
    assert level(eggs, floor) == 24
    line = write_off.lines.get()
    assert (line.quantity, line.unit_cost) == (6, Decimal("0.8000"))
    movement = StockMovement.objects.get(kind=MovementKind.WRITE_OFF)
    assert (movement.quantity, movement.document, movement.user) == (-6, write_off, user)
    with pytest.raises(ValidationError, match="Unknown write-off reason"):
        write_off_create(location=floor, reason="bored", lines=[DocumentLine(eggs, Decimal(1))])
    assert WriteOff.objects.count() == 1
    call_command("check_stock_ledger")


def test_expired_lots_are_written_off_in_one_document(floor):
    milk = ProductFactory(lot_tracked=True)
    today = timezone.localdate()
    old = Lot.objects.create(product=milk, code="OLD", expiry_date=today - timedelta(days=1))
    fresh = Lot.objects.create(product=milk, code="NEW", expiry_date=today + timedelta(days=5))
    stock_move_batch(moves=[Move(milk, floor, Decimal(3), old), Move(milk, floor, Decimal(9), fresh)], kind="receipt")
    write_off = write_off_expired(location=floor)
    assert write_off.reason == "expired"
    assert [(line.lot, line.quantity) for line in write_off.lines.all()] == [(old, 3)]
    assert (level(milk, floor, old), level(milk, floor, fresh)) == (0, 9)
    with pytest.raises(ValidationError, match="No expired lots"):
        write_off_expired(location=floor)
    call_command("check_stock_ledger")
