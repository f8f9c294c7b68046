from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from catalog import gtin
from stock.models import CountLine, CountSession, MovementKind, StockLevel, StockMovement
from stock.services import Move, stock_move_batch
from stock.stocktake import count_add, count_post, count_review, count_session_start, count_undo
from tests.factories import CategoryFactory, ProductBarcodeFactory, ProductFactory, ean13

pytestmark = pytest.mark.django_db


def stocked(location, quantity, **fields):
    product = ProductFactory(**fields)
    stock_move_batch(moves=[Move(product, location, Decimal(quantity))], kind=MovementKind.RECEIPT)
    return product


def on_hand(product, location) -> Decimal:
    return StockLevel.objects.get(product=product, location=location, lot=None).on_hand


def test_sales_between_start_and_counting_make_no_false_difference(floor, django_user_model):
    user = django_user_model.objects.create_user("counter")
    cola = stocked(floor, 20)
    session = count_session_start(location=floor, user=user)
    # Sold after the session started, before the shelf was counted: 17 are on the shelf.
    stock_move_batch(moves=[Move(cola, floor, Decimal(-3))], kind=MovementKind.SALE)
    count_add(session=session, code=cola.barcode, quantity=Decimal(17), user=user)
    # Sold after counting, before posting: the count stays right.
    stock_move_batch(moves=[Move(cola, floor, Decimal(-2))], kind=MovementKind.SALE)
    line = CountLine.objects.get(session=session, product=cola)
    assert (line.expected, line.counted, line.difference) == (17, 17, 0)
    assert line.ledger_position == StockMovement.objects.filter(product=cola, kind="sale").order_by("id").first().pk
    count_post(session=session, user=user)
    assert not StockMovement.objects.filter(kind=MovementKind.STOCKTAKE).exists()
    assert on_hand(cola, floor) == 15
    session.refresh_from_db()
    assert (session.status, session.accuracy_percent, session.lines_accurate) == ("posted", Decimal("100.00"), 1)
    call_command("check_stock_ledger")


def test_posting_writes_one_adjustment_per_difference_valued_at_cost(floor, django_user_model):
    user = django_user_model.objects.create_user("counter")
    short = stocked(floor, 10, purchase_price=Decimal("5.0000"))
    extra = stocked(floor, 4, purchase_price=Decimal("1.5000"))
    exact = stocked(floor, 3)
    session = count_session_start(location=floor, tolerance_percent=Decimal(0), user=user)
    for _ in range(7):
        count_add(session=session, code=short.barcode, user=user)
    count_add(session=session, code=extra.barcode, quantity=Decimal(6), user=user)
    count_add(session=session, code=exact.barcode, quantity=Decimal(3), user=user)
    review = count_review(session)
    assert [(r.line.product, r.difference, r.value) for r in review.rows] == [
        (short, -3, Decimal("-15.00")),
        (extra, 2, Decimal("3.00")),
        (exact, 0, Decimal("0.00")),
    ]
    assert review.accuracy_percent == Decimal("33.33")
    count_post(session=session, user=user)
    adjustments = StockMovement.objects.filter(kind=MovementKind.STOCKTAKE).order_by("product_id")
    assert {m.product: m.quantity for m in adjustments} == {short: -3, extra: 2}
    assert all(m.document == session and m.user == user for m in adjustments)
    assert (on_hand(short, floor), on_hand(extra, floor), on_hand(exact, floor)) == (7, 6, 3)
    session.refresh_from_db()
    assert (session.difference_value, session.absolute_difference_value) == (Decimal("-12.00"), Decimal("18.00"))
    call_command("check_stock_ledger")


def test_a_posted_session_is_read_only_and_cannot_be_posted_twice(floor):
    product = stocked(floor, 5)
    session = count_session_start(location=floor)
    count_add(session=session, code=product.barcode, quantity=Decimal(4))
    count_post(session=session)
    with pytest.raises(ValidationError, match="posted and read-only"):
        count_post(session=session)
    with pytest.raises(ValidationError, match="posted and read-only"):
        count_add(session=session, code=product.barcode)
    with pytest.raises(ValidationError, match="posted and read-only"):
        count_undo(session=session)
    assert StockMovement.objects.filter(kind=MovementKind.STOCKTAKE).count() == 1
    assert on_hand(product, floor) == 4


def test_negative_counts_and_unknown_codes_are_refused(floor):
    product = stocked(floor, 5)
    session = count_session_start(location=floor)
    with pytest.raises(ValidationError, match="must be more than zero"):
        count_add(session=session, code=product.barcode, quantity=Decimal(-2))
    with pytest.raises(ValidationError, match="No product has the code"):
        count_add(session=session, code=ean13(987_654))
    with pytest.raises(ValidationError, match="sold by the piece: the quantity must be a whole number"):
        count_add(session=session, code=product.barcode, quantity=Decimal("1.5"))  # a typo for 15
    assert not CountLine.objects.exists()


def test_undo_takes_back_only_my_last_entry(floor, django_user_model):
    anna, bo = (django_user_model.objects.create_user(name) for name in ("anna", "bo"))
    product = stocked(floor, 30)
    case = ProductBarcodeFactory(product=product, pack_quantity=12)
    session = count_session_start(location=floor)
    count_add(session=session, code=case.barcode, user=anna)
    count_add(session=session, code=product.barcode, user=bo)
    count_add(session=session, code=product.barcode, quantity=Decimal(5), user=anna)
    assert CountLine.objects.get().counted == 18
    count_undo(session=session, user=anna)
    assert CountLine.objects.get().counted == 13
    count_undo(session=session, user=bo)
    count_undo(session=session, user=anna)
    assert not CountLine.objects.exists()
    with pytest.raises(ValidationError, match="Nothing of yours to undo"):
        count_undo(session=session, user=anna)


def test_category_scope_refuses_other_products_and_lists_uncounted(floor):
    dairy = CategoryFactory(name="乳品")
    yoghurt_shelf = CategoryFactory(name="酸奶", parent=dairy)
    milk = stocked(floor, 6, category=dairy)
    yoghurt = stocked(floor, 8, category=yoghurt_shelf)
    soap = stocked(floor, 2)
    session = count_session_start(location=floor, categories=[dairy])
    with pytest.raises(ValidationError, match="not in the categories of this count"):
        count_add(session=session, code=soap.barcode)
    count_add(session=session, code=milk.barcode, quantity=Decimal(6))
    review = count_review(session)
    assert [(p, p.on_hand) for p in review.uncounted] == [(yoghurt, 8)]
    count_post(session=session)
    assert on_hand(yoghurt, floor) == 8


def test_accuracy_uses_the_tolerance(floor):
    product = stocked(floor, 100)
    session = count_session_start(location=floor, tolerance_percent=Decimal(2))
    count_add(session=session, code=product.barcode, quantity=Decimal(98))
    assert count_review(session).accuracy_percent == Decimal("100.00")
    count_add(session=session, code=product.barcode, quantity=Decimal(5))
    assert count_review(session).accuracy_percent == Decimal("0.00")
    assert CountSession.objects.get().status == "open"


def test_a_case_label_counts_the_items_it_holds(floor):
    product = stocked(floor, 30)
    session = count_session_start(location=floor)
    count_add(session=session, code=f"(02)0{product.barcode}(37)24(10)ANY")
    assert CountLine.objects.get().counted == 24
    with pytest.raises(ValidationError, match="Unknown Application Identifier"):
        count_add(session=session, code=f"010{product.barcode}99X")


def test_a_count_overlapping_an_open_count_of_the_location_is_refused(floor, backroom):
    drinks = CategoryFactory(name="饮料")
    juice = CategoryFactory(name="果汁", parent=drinks)
    snacks = CategoryFactory(name="零食")
    juice_count = count_session_start(location=floor, categories=[juice])
    with pytest.raises(ValidationError, match=f"{juice_count} is still open and covers some of the same goods"):
        count_session_start(location=floor)  # everything overlaps every count
    with pytest.raises(ValidationError, match=f"{juice_count} is still open"):
        count_session_start(location=floor, categories=[drinks])  # juice is inside drinks
    snack_count = count_session_start(location=floor, categories=[snacks])  # no goods in common
    backroom_count = count_session_start(location=backroom)  # another location
    assert CountSession.objects.filter(status="open").count() == 3
    product = stocked(floor, 1, category=juice)
    count_add(session=juice_count, code=product.barcode)
    count_post(session=juice_count)
    with pytest.raises(ValidationError, match=f"{snack_count} is still open"):
        count_session_start(location=floor)
    assert count_session_start(location=floor, categories=[drinks]) not in (juice_count, snack_count, backroom_count)


def test_starting_the_same_count_twice_opens_it_once_and_posts_the_shortage_once(floor):
    product = stocked(floor, 10)
    first = count_session_start(location=floor)
    again = count_session_start(location=floor)  # "start count" submitted twice
    assert again == first and CountSession.objects.count() == 1
    count_add(session=first, code=product.barcode, quantity=Decimal(8))
    count_post(session=first)
    with pytest.raises(ValidationError, match="posted and read-only"):
        count_post(session=again)
    assert on_hand(product, floor) == 8


def test_a_typed_quantity_with_a_case_barcode_counts_cases(floor, backroom):
    product = stocked(floor, 72)
    case = ProductBarcodeFactory(product=product, pack_quantity=24)
    session = count_session_start(location=floor)
    entry = count_add(session=session, code=case.barcode, quantity=Decimal(3))
    assert entry.quantity == 72  # as the transfer and write-off forms read "case barcode 3"
    assert count_review(session).rows[0].difference == 0
    with pytest.raises(ValidationError, match="sold by the piece"):
        count_add(session=session, code=case.barcode, quantity=Decimal("0.1"))  # 2.4 bottles


def test_a_scanned_quantity_that_is_no_quantity_of_the_product_is_refused(floor):
    meat = ProductFactory(unit="kg", store_code="12345")
    eggs = ProductFactory(store_code="54321")  # sold by the piece, yet weighed at the counter
    session = count_session_start(location=floor)
    with pytest.raises(ValidationError, match=f"Code {meat.barcode}: Quantity must be more than zero"):
        count_add(session=session, code=f"(01)0{meat.barcode}(3103)000000")  # a case label weighing nothing
    with pytest.raises(ValidationError, match="Quantity must be more than zero|carries no weight"):
        count_add(session=session, code=gtin.with_check_digit("23" + "12345" + "00000"))  # an empty scale pan
    with pytest.raises(ValidationError, match=f"{eggs.name} is sold by the piece: the quantity must be a whole"):
        count_add(session=session, code=gtin.with_check_digit("23" + "54321" + "01500"))
    assert not CountLine.objects.exists()
    count_add(session=session, code=gtin.with_check_digit("23" + "12345" + "01250"), quantity=Decimal(2))
    assert CountLine.objects.get(product=meat).counted == Decimal("2.5")
