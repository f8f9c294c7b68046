from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from catalog import gs1, gtin
from catalog.models import Product
from stock.models import (
    Lot,
    MovementKind,
    PurchaseOrder,
    Receipt,
    ReplenishmentSuggestion,
    StockLevel,
    StockMovement,
)
from stock.purchasing import (
    OrderLine,
    on_order_quantities,
    purchase_order_cancel,
    purchase_order_create,
    purchase_order_send,
)
from stock.receiving import (
    moving_average_cost,
    receipt_line_update,
    receipt_post,
    receipt_scan,
    receipt_sheet,
    receipt_start,
)
from stock.replenishment import suggestions_order
from stock.services import Move, stock_move_batch
from tests.factories import ProductBarcodeFactory, ProductFactory, SupplierFactory, ean13

pytestmark = pytest.mark.django_db


def on_hand(product, location) -> Decimal:
    return sum((lv.on_hand for lv in StockLevel.objects.filter(product=product, location=location)), Decimal(0))


@pytest.fixture
def supplier():
    return SupplierFactory(lead_time_days=2)


def sent_order(supplier, floor, *lines):
    order = purchase_order_create(supplier=supplier, location=floor, lines=[OrderLine(*line) for line in lines])
    return purchase_order_send(order=order)


def test_suggestion_to_order_to_partial_then_full_receipt(supplier, floor, django_user_model):
    user = django_user_model.objects.create_user("clerk")
    water = ProductFactory(supplier=supplier, safety_stock=Decimal(10), purchase_price=Decimal("2.0000"))
    case = ProductBarcodeFactory(product=water, pack_quantity=6)
    stock_move_batch(moves=[Move(water, floor, Decimal(12))], kind=MovementKind.RECEIPT)
    stock_move_batch(moves=[Move(water, floor, Decimal(-8))], kind=MovementKind.SALE)
    suggestion = ReplenishmentSuggestion.objects.get(product=water, status="open")

    result = suggestions_order(suggestions=[suggestion], user=user)
    order = result.orders[0]
    line = order.lines.get()
    # No sales history: 0 demand; safety stock 10 - on hand 4 = 6, one case of 6.
    assert (order.supplier, order.status, line.quantity) == (supplier, PurchaseOrder.Status.DRAFT, Decimal(6))
    suggestion.refresh_from_db()
    assert suggestion.status == "ordered" and suggestion.purchase_order == order

    purchase_order_send(order=order, user=user)
    receipt = receipt_start(order=order, user=user)
    receipt_scan(receipt=receipt, code=water.barcode, user=user)
    receipt_scan(receipt=receipt, code=water.barcode, user=user)
    sheet = receipt_sheet(receipt)
    assert [(row.product, row.this_receipt, row.state) for row in sheet] == [(water, 2, "under")]
    receipt_post(receipt=receipt, user=user)
    order.refresh_from_db()
    line.refresh_from_db()
    assert order.status == PurchaseOrder.Status.PARTIAL and line.received_quantity == 2
    assert on_hand(water, floor) == 6

    second = receipt_start(order=order, user=user)
    assert second != receipt
    scanned = receipt_scan(receipt=second, code=case.barcode, user=user)
    assert scanned.added == 6 and scanned.on_order
    line_row = second.lines.get()
    receipt_line_update(line=line_row, quantity=Decimal(4), user=user)
    receipt_post(receipt=second, user=user)
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.RECEIVED
    assert on_hand(water, floor) == 10
    movement = StockMovement.objects.filter(kind=MovementKind.RECEIPT, document_id=second.pk).get()
    assert movement.document == second and movement.user == user
    call_command("check_stock_ledger")


def test_receipt_updates_purchase_price_by_moving_average_with_history(supplier, floor, django_user_model):
    user = django_user_model.objects.create_user("buyer")
    rice = ProductFactory(supplier=supplier, purchase_price=Decimal("10.0000"))
    stock_move_batch(moves=[Move(rice, floor, Decimal(30))], kind=MovementKind.RECEIPT)
    order = sent_order(supplier, floor, (rice, Decimal(10), Decimal("14.0000")))
    receipt = receipt_start(order=order)
    receipt_scan(receipt=receipt, code=rice.barcode)
    receipt_line_update(line=receipt.lines.get(), quantity=Decimal(10))
    receipt_post(receipt=receipt, user=user)
    rice.refresh_from_db()
    # (30 × 10 + 10 × 14) / 40 = 11
    assert rice.purchase_price == Decimal("11.0000")
    latest = rice.history.first()
    assert latest.purchase_price == Decimal("11.0000") and latest.history_user == user


def test_moving_average_ignores_stock_below_zero():
    cost = moving_average_cost(
        on_hand=Decimal(-5), current_cost=Decimal(3), received=Decimal(10), received_cost=Decimal("4.5")
    )
    assert cost == Decimal("4.5000")


def test_items_not_on_the_order_are_flagged_and_kept_as_over_receipt(supplier, floor):
    ordered = ProductFactory(supplier=supplier)
    extra = ProductFactory(supplier=supplier)
    order = sent_order(supplier, floor, (ordered, Decimal(2)))
    receipt = receipt_start(order=order)
    receipt_scan(receipt=receipt, code=ordered.barcode)
    receipt_scan(receipt=receipt, code=ordered.barcode)
    receipt_scan(receipt=receipt, code=ordered.barcode)
    result = receipt_scan(receipt=receipt, code=extra.barcode)
    assert not result.on_order
    states = {row.product: row.state for row in receipt_sheet(receipt)}
    assert states == {ordered: "over", extra: "not-on-order"}
    receipt_post(receipt=receipt)
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.RECEIVED
    assert order.lines.get(product=extra).received_quantity == 1
    assert on_hand(extra, floor) == 1


def test_gs1_case_label_fills_lot_expiry_and_quantity(supplier, floor):
    yoghurt = ProductFactory(supplier=supplier, lot_tracked=True)
    case = ProductBarcodeFactory(
        product=yoghurt, barcode=gtin.with_check_digit("1" + yoghurt.barcode[:-1]), pack_quantity=12
    )
    order = sent_order(supplier, floor, (yoghurt, Decimal(36)))
    receipt = receipt_start(order=order)
    expiry = timezone.localdate() + timedelta(days=60)  # expired goods are refused at the door
    # A pallet label: 2 × 12 items inside (AI 02 names the item, 37 the count).
    receipt_scan(receipt=receipt, code=f"(02)0{yoghurt.barcode}(37)24(17){expiry:%y%m%d}(10)Y-77")
    # A case label (AI 01 names the case barcode): one case of 12, same lot.
    receipt_scan(receipt=receipt, code=f"]C101{case.barcode}17{expiry:%y%m%d}" + f"10Y-77{gs1.GS}")
    line = receipt.lines.get()
    assert (line.lot_code, line.expiry_date, line.quantity) == ("Y-77", expiry, 36)
    receipt_post(receipt=receipt)
    lot = Lot.objects.get(product=yoghurt, code="Y-77")
    assert lot.expiry_date == expiry
    assert StockLevel.objects.get(product=yoghurt, location=floor, lot=lot).on_hand == 36
    call_command("check_stock_ledger")


def test_lot_tracked_goods_without_lot_are_refused_and_nothing_is_written(supplier, floor):
    milk = ProductFactory(supplier=supplier, lot_tracked=True)
    order = sent_order(supplier, floor, (milk, Decimal(5)))
    receipt = receipt_start(order=order)
    receipt_scan(receipt=receipt, code=milk.barcode)
    with pytest.raises(ValidationError, match="lot-tracked: enter its lot code"):
        receipt_post(receipt=receipt)
    receipt_line_update(line=receipt.lines.get(), quantity=Decimal(5), lot_code="M1")
    with pytest.raises(ValidationError, match="enter the expiry date"):
        receipt_post(receipt=receipt)
    assert not StockMovement.objects.filter(product=milk).exists()
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.SENT
    receipt_line_update(
        line=receipt.lines.get(),
        quantity=Decimal(5),
        lot_code="M1",
        expiry_date=timezone.localdate() + timedelta(days=90),
    )
    receipt_post(receipt=receipt)
    assert on_hand(milk, floor) == 5


def test_a_cancelled_order_cannot_be_received(supplier, floor):
    product = ProductFactory(supplier=supplier)
    order = sent_order(supplier, floor, (product, Decimal(3)))
    receipt = receipt_start(order=order)
    receipt_scan(receipt=receipt, code=product.barcode)
    purchase_order_cancel(order=order)
    with pytest.raises(ValidationError, match="cancelled and cannot be received"):
        receipt_post(receipt=receipt)
    with pytest.raises(ValidationError, match="cancelled and cannot be received"):
        receipt_start(order=order)
    assert not StockMovement.objects.filter(product=product).exists()
    assert Receipt.objects.get(pk=receipt.pk).status == Receipt.Status.DRAFT


def test_the_rest_of_a_partly_received_order_can_be_cancelled_and_is_no_longer_on_order(supplier, floor):
    product = ProductFactory(supplier=supplier)
    order = sent_order(supplier, floor, (product, Decimal(5)))
    receipt = receipt_start(order=order)
    receipt_scan(receipt=receipt, code=product.barcode)
    receipt_post(receipt=receipt)
    assert on_order_quantities([product.pk]) == {(product.pk, floor.pk): 4}
    purchase_order_cancel(order=order)
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.CANCELLED
    assert on_order_quantities([product.pk]) == {}
    assert on_hand(product, floor) == 1  # what came stays booked
    with pytest.raises(ValidationError, match="cancelled and cannot be cancelled"):
        purchase_order_cancel(order=order)


def test_posting_a_receipt_twice_is_refused(supplier, floor):
    product = ProductFactory(supplier=supplier)
    order = sent_order(supplier, floor, (product, Decimal(3)))
    receipt = receipt_start(order=order)
    receipt_scan(receipt=receipt, code=product.barcode)
    receipt_post(receipt=receipt)
    with pytest.raises(ValidationError, match="already posted"):
        receipt_post(receipt=receipt)
    with pytest.raises(ValidationError, match="already posted"):
        receipt_scan(receipt=receipt, code=product.barcode)
    assert StockMovement.objects.filter(product=product).count() == 1


def test_unknown_and_malformed_codes_are_refused_with_the_reason(supplier, floor):
    product = ProductFactory(supplier=supplier)
    order = sent_order(supplier, floor, (product, Decimal(3)))
    receipt = receipt_start(order=order)
    with pytest.raises(ValidationError, match="No product has the code"):
        receipt_scan(receipt=receipt, code=ean13(999_999))
    with pytest.raises(ValidationError, match="Wrong check digit"):
        receipt_scan(receipt=receipt, code=product.barcode[:-1] + str((int(product.barcode[-1]) + 1) % 10))
    receipt_scan(receipt=receipt, code=product.barcode)
    with pytest.raises(ValidationError, match="cannot be negative"):
        receipt_line_update(line=receipt.lines.get(), quantity=Decimal(-1))
    assert receipt.lines.get().quantity == 1


def test_direct_delivery_needs_a_reason(floor):
    product = ProductFactory()
    with pytest.raises(ValidationError, match="needs a reason"):
        receipt_start(location=floor, reason="  ")
    receipt = receipt_start(location=floor, reason="送货单补录 delivery note only")
    receipt_scan(receipt=receipt, code=product.barcode)
    assert [row.state for row in receipt_sheet(receipt)] == ["direct"]
    receipt_post(receipt=receipt)
    assert on_hand(product, floor) == 1


def test_order_lines_are_checked_before_anything_is_written(supplier, floor):
    product = ProductFactory(supplier=supplier)
    other = ProductFactory()
    with pytest.raises(ValidationError, match="Line 2 .*more than zero"):
        purchase_order_create(supplier=supplier, lines=[OrderLine(product, Decimal(1)), OrderLine(product, Decimal(0))])
    with pytest.raises(ValidationError, match="is bought from"):
        purchase_order_create(supplier=supplier, lines=[OrderLine(other, Decimal(1))])
    assert not PurchaseOrder.objects.exists()
    order = purchase_order_create(supplier=supplier, lines=[OrderLine(product, Decimal(1))])
    assert order.expected_date == timezone.localdate() + timedelta(days=supplier.lead_time_days)
    with pytest.raises(ValidationError, match="still a draft"):
        receipt_start(order=order)
    assert Product.objects.get(pk=product.pk).purchase_price == product.purchase_price


def test_a_typed_quantity_received_is_whole_for_goods_sold_by_the_piece(floor):
    rice = ProductFactory()
    receipt = receipt_start(location=floor, reason="delivery without an order")
    receipt_scan(receipt=receipt, code=rice.barcode)
    with pytest.raises(ValidationError, match="sold by the piece: the quantity must be a whole number"):
        receipt_line_update(line=receipt.lines.get(), quantity=Decimal("2.5"))
    assert receipt.lines.get().quantity == 1


def test_a_scanned_quantity_that_is_no_quantity_of_the_product_is_refused(floor):
    meat = ProductFactory(unit="kg", store_code="12345")
    eggs = ProductFactory(store_code="54321")  # sold by the piece, yet weighed at the counter
    receipt = receipt_start(location=floor, reason="delivery without an order")
    with pytest.raises(ValidationError, match=f"Code {meat.barcode}: Quantity must be more than zero"):
        receipt_scan(receipt=receipt, code=f"(01)0{meat.barcode}(3103)000000")  # a case label weighing nothing
    with pytest.raises(ValidationError, match=f"{eggs.name} is sold by the piece: the quantity must be a whole"):
        receipt_scan(receipt=receipt, code=gtin.with_check_digit("23" + "54321" + "01500"))
    assert not receipt.lines.exists()
    receipt_scan(receipt=receipt, code=f"(01)0{meat.barcode}(3103)001500")
    assert receipt.lines.get(product=meat).quantity == Decimal("1.5")
