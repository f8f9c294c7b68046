"""Transfers and write-offs as a clerk meets them: refusals that say what is fresh and what expired, duplicate lines
checked together, case and weight labels read as counting reads them, and a hand-edited undo on the count page."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog import gs1
from stock.forms import TransferForm, WriteOffForm
from stock.models import CountEntry, Lot, MovementKind, StockLevel, StockMovement, Transfer, WriteOff
from stock.services import ExpiredStock, InsufficientStock, Move, stock_move_batch
from stock.stocktake import count_add, count_session_start
from stock.transfers import DocumentLine, transfer_create, write_off_create
from supermarket.roles import STOCK_CLERK, user_set_role
from tests.factories import ProductBarcodeFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(client, django_user_model):
    user = django_user_model.objects.create_user("clerk", password="x")
    user_set_role(user=user, role=STOCK_CLERK)
    client.force_login(user)
    return user


@pytest.fixture
def yogurt(backroom):
    """4 fresh and 4 expired yogurts in the backroom."""
    product = ProductFactory(name="Yogurt", lot_tracked=True)
    today = timezone.localdate()
    product.old = Lot.objects.create(product=product, code="OLD", expiry_date=today - timedelta(days=1))
    product.new = Lot.objects.create(product=product, code="NEW", expiry_date=today + timedelta(days=5))
    stock_move_batch(
        moves=[Move(product, backroom, Decimal(4), product.old), Move(product, backroom, Decimal(4), product.new)],
        kind=MovementKind.RECEIPT,
    )
    return product


def on_hand(product, location) -> Decimal:
    return sum((level.on_hand for level in StockLevel.objects.filter(product=product, location=location)), Decimal(0))


def form_token(client, name: str) -> str:
    return str(client.get(reverse(name)).context["form"]["token"].value())


# 1. Refusals of lot-tracked goods ---------------------------------------------------------------


@pytest.mark.parametrize("wanted", [6, 10])
def test_transfer_short_of_fresh_stock_says_what_is_fresh_and_which_lots_expired_without_a_manager(
    yogurt, backroom, floor, wanted
):
    with pytest.raises(InsufficientStock) as refused:
        transfer_create(source=backroom, destination=floor, lines=[DocumentLine(yogurt, Decimal(wanted))])
    message = str(refused.value)
    assert f"4 left, {wanted} requested" in message
    assert "unexpired" in message
    assert f"OLD: 4, expired on {yogurt.old.expiry_date}" in message
    assert "manager" not in message.lower()
    assert (on_hand(yogurt, backroom), on_hand(yogurt, floor), Transfer.objects.count()) == (8, 0, 0)


def test_transfer_page_refusal_for_expired_stock_tells_the_clerk_what_is_fresh(client, clerk, yogurt, backroom, floor):
    lines = f"{yogurt.barcode} 6"
    data = {"token": form_token(client, "stock:transfer-new"), "source": backroom.pk, "destination": floor.pk}
    response = client.post(reverse("stock:transfer-new"), {**data, "lines": lines})
    text = response.content.decode()
    assert "4 left, 6 requested" in text and "OLD" in text
    assert "manager" not in text.lower()
    assert "Only expired stock" not in text
    assert on_hand(yogurt, floor) == 0


def test_lot_tracked_shortage_counts_every_lot_not_just_the_stock_without_one(backroom, floor):
    milk = ProductFactory(lot_tracked=True)
    soon = Lot.objects.create(product=milk, code="S", expiry_date=timezone.localdate() + timedelta(days=2))
    stock_move_batch(moves=[Move(milk, backroom, Decimal(4), soon)], kind=MovementKind.RECEIPT)
    with pytest.raises(InsufficientStock, match="4 left, 6 requested") as refused:
        transfer_create(source=backroom, destination=floor, lines=[DocumentLine(milk, Decimal(6))])
    assert not isinstance(refused.value, ExpiredStock)


def test_a_sale_of_expired_stock_still_asks_for_a_manager_and_says_what_is_fresh(yogurt, backroom):
    with pytest.raises(ExpiredStock, match="manager must approve") as refused:
        stock_move_batch(moves=[Move(yogurt, backroom, Decimal(-6))], kind=MovementKind.SALE)
    assert "4 left, 6 requested" in str(refused.value)
    assert refused.value.lots == [yogurt.old]
    # More than fresh and expired together: a manager's approval would not help, so none is asked for.
    with pytest.raises(InsufficientStock) as short:
        stock_move_batch(moves=[Move(yogurt, backroom, Decimal(-10))], kind=MovementKind.SALE)
    assert not isinstance(short.value, ExpiredStock)
    assert "4 left, 10 requested" in str(short.value) and "manager" not in str(short.value)
    assert on_hand(yogurt, backroom) == 8


def test_write_off_takes_expired_lots_and_counts_them_when_short(yogurt, backroom):
    with pytest.raises(InsufficientStock, match="8 left, 9 requested"):
        write_off_create(location=backroom, reason="damaged", lines=[DocumentLine(yogurt, Decimal(9))])
    write_off = write_off_create(location=backroom, reason="expired", lines=[DocumentLine(yogurt, Decimal(4))])
    assert [(line.lot, line.quantity) for line in write_off.lines.all()] == [(yogurt.old, 4)]


# 1b. Duplicate lines ------------------------------------------------------------------------------


def test_duplicate_lines_of_a_product_are_checked_and_moved_together(backroom, floor):
    soap = ProductFactory(name="Soap")
    stock_move_batch(moves=[Move(soap, backroom, Decimal(5))], kind=MovementKind.RECEIPT)
    twice = [DocumentLine(soap, Decimal(3)), DocumentLine(soap, Decimal(3))]
    with pytest.raises(InsufficientStock, match="5 left, 6 requested"):
        transfer_create(source=backroom, destination=floor, lines=twice)
    with pytest.raises(InsufficientStock, match="5 left, 6 requested"):
        write_off_create(location=backroom, reason="damaged", lines=twice)
    assert not Transfer.objects.exists() and not WriteOff.objects.exists()
    transfer = transfer_create(
        source=backroom, destination=floor, lines=[DocumentLine(soap, Decimal(2)), DocumentLine(soap, Decimal(3))]
    )
    assert [(line.product, line.quantity) for line in transfer.lines.all()] == [(soap, 5)]
    assert (on_hand(soap, backroom), on_hand(soap, floor)) == (0, 5)
    assert StockMovement.objects.filter(kind=MovementKind.TRANSFER).count() == 2


def test_transfer_page_with_a_product_twice_says_all_that_is_there_and_all_that_was_asked(
    client, clerk, backroom, floor
):
    soap = ProductFactory(name="Soap")
    stock_move_batch(moves=[Move(soap, backroom, Decimal(5))], kind=MovementKind.RECEIPT)
    data = {"token": form_token(client, "stock:transfer-new"), "source": backroom.pk, "destination": floor.pk}
    response = client.post(reverse("stock:transfer-new"), {**data, "lines": f"{soap.barcode} 3\n{soap.barcode} 3"})
    assert "5 left, 6 requested" in response.content.decode()
    assert on_hand(soap, backroom) == 5


# 2. Codes on the transfer and write-off forms ---------------------------------------------------


def form_lines(form_class, text: str, backroom, floor):
    data = {"token": "6f1c1f6e-4a4b-4a51-9d1e-2b8f9b0c1d2e", "lines": text, "note": ""}
    data |= {"source": backroom.pk, "destination": floor.pk, "location": backroom.pk, "reason": "damaged"}
    form = form_class(data)
    assert form.is_valid(), form.errors
    return [(line.product, line.quantity) for line in form.cleaned_data["lines"]]


@pytest.mark.parametrize("form_class", [TransferForm, WriteOffForm])
def test_document_forms_read_case_and_weight_labels_as_counting_does(form_class, backroom, floor):
    milk = ProductFactory(barcode="9501101530003", name="Milk")
    meat = ProductFactory(unit="kg")
    case = ProductBarcodeFactory(product=milk, pack_quantity=24).barcode
    text = "\n".join(
        [
            "(01)09501101530003(37)12",  # a case label: its count
            "(01)09501101530003(37)12 2",  # two such cases
            f"]C1010950110153000310LOT{gs1.GS}3712 3",  # raw: the group separator is no column break
            f"{case} 3",  # 3 with a 24-pack case barcode: 72
            f"(01)0{meat.barcode}(3103)012500",  # a weight label: its net weight
        ]
    )
    assert form_lines(form_class, text, backroom, floor) == [
        (milk, 12),
        (milk, 24),
        (milk, 36),
        (milk, 72),
        (meat, Decimal("12.5")),
    ]


def test_document_forms_count_a_typed_quantity_of_a_scanned_code_as_count_add_does(backroom, floor, floor_session):
    cola = ProductFactory(name="Cola")
    case = ProductBarcodeFactory(product=cola, pack_quantity=24).barcode
    counted = count_add(session=floor_session, code=f"(01)0{case}(37)3", quantity=Decimal(2))
    assert counted.quantity == 144
    assert form_lines(TransferForm, f"(01)0{case}(37)3 2", backroom, floor) == [(cola, counted.quantity)]


@pytest.fixture
def floor_session(floor):
    return count_session_start(location=floor)


def test_document_forms_still_refuse_bad_codes_and_quantities_line_by_line(backroom, floor):
    bolts, meat = ProductFactory(name="Bolts"), ProductFactory(unit="kg")
    data = {"token": "6f1c1f6e-4a4b-4a51-9d1e-2b8f9b0c1d2e", "source": backroom.pk, "destination": floor.pk}
    text = f"(01)0{meat.barcode}(3103)000000\n{bolts.barcode} x\n(01)09999999999999\n{bolts.barcode} 1.5"
    form = TransferForm({**data, "lines": text})
    assert not form.is_valid()
    errors = form.errors["lines"]
    assert errors[0].startswith("Line 1: ") and "more than zero" in errors[0]
    assert errors[1] == "Line 2: x is not a quantity."
    assert errors[2].startswith("Line 3: ")
    assert errors[3].startswith("Line 4: ") and "whole number" in errors[3]


# 3. Count undo with a hand-edited entry -----------------------------------------------------------


@pytest.mark.parametrize("entry", ["abc", "1.5", "１ 2"])
def test_count_undo_of_an_entry_that_is_no_number_is_a_bad_request_and_undoes_nothing(
    client, clerk, floor, floor_session, entry
):
    rice = ProductFactory()
    count_add(session=floor_session, code=rice.barcode, user=clerk)
    response = client.post(reverse("stock:count-undo", args=[floor_session.pk]), {"entry": entry})
    assert response.status_code == 400
    assert CountEntry.objects.count() == 1
