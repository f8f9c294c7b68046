import random
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from catalog.models import Product
from stock.models import MovementKind, ReplenishmentSuggestion, StockLevel, StockMovement
from stock.selectors import ledger_mismatches
from stock.services import InsufficientStock, Move, stock_move, stock_move_batch
from tests.factories import ProductFactory, ean13

pytestmark = pytest.mark.django_db


def on_hand(product, location) -> Decimal:
    return sum((lv.on_hand for lv in StockLevel.objects.filter(product=product, location=location)), Decimal(0))


def test_a_move_writes_level_and_ledger_row_with_balance(floor, django_user_model):
    clerk = django_user_model.objects.create_user("clerk")
    product = ProductFactory()
    stock_move(product=product, location=floor, quantity=Decimal(10), kind=MovementKind.RECEIPT, user=clerk)
    movement = stock_move(product=product, location=floor, quantity=Decimal(-3), kind=MovementKind.SALE, reference="S1")
    assert on_hand(product, floor) == 7
    assert movement.balance_after == 7 and movement.quantity == -3 and movement.reference == "S1"
    assert StockMovement.objects.filter(product=product).count() == 2


def test_sale_below_zero_is_refused_naming_product_location_and_what_is_left(floor):
    product = ProductFactory(name="牛奶")
    stock_move(product=product, location=floor, quantity=Decimal(2), kind=MovementKind.RECEIPT)
    with pytest.raises(InsufficientStock, match=r"牛奶 .*2 left, 5 requested"):
        stock_move(product=product, location=floor, quantity=Decimal(-5), kind=MovementKind.SALE)
    assert on_hand(product, floor) == 2
    assert StockMovement.objects.filter(product=product).count() == 1


def test_the_refusal_writes_whole_tens_as_people_do(floor):
    product = ProductFactory(name="牛奶")
    stock_move(product=product, location=floor, quantity=Decimal("10.000"), kind=MovementKind.RECEIPT)
    stock_move(product=product, location=floor, quantity=Decimal("-0.500"), kind=MovementKind.SALE)
    with pytest.raises(InsufficientStock) as refused:
        stock_move(product=product, location=floor, quantity=Decimal("-100"), kind=MovementKind.SALE)
    assert "9.5 left, 100 requested" in str(refused.value)


def test_negative_sales_allowed_by_setting(floor, settings):
    settings.STOCK_ALLOW_NEGATIVE_SALES = True
    product = ProductFactory()
    stock_move(product=product, location=floor, quantity=Decimal(-2), kind=MovementKind.SALE)
    assert on_hand(product, floor) == -2
    assert not ledger_mismatches()


def test_one_bad_line_refuses_the_whole_batch(floor):
    plenty, scarce = ProductFactory(), ProductFactory()
    stock_move_batch(
        moves=[Move(plenty, floor, Decimal(50)), Move(scarce, floor, Decimal(1))], kind=MovementKind.RECEIPT
    )
    with pytest.raises(InsufficientStock):
        stock_move_batch(
            moves=[Move(plenty, floor, Decimal(-5)), Move(scarce, floor, Decimal(-2))], kind=MovementKind.SALE
        )
    assert on_hand(plenty, floor) == 50 and on_hand(scarce, floor) == 1
    assert StockMovement.objects.count() == 2


def test_same_product_twice_in_a_batch_gives_running_balances(floor):
    product = ProductFactory()
    stock_move(product=product, location=floor, quantity=Decimal(10), kind=MovementKind.RECEIPT)
    rows = stock_move_batch(
        moves=[Move(product, floor, Decimal(-4)), Move(product, floor, Decimal(-5))], kind=MovementKind.SALE
    )
    assert [r.balance_after for r in rows] == [6, 1]
    assert on_hand(product, floor) == 1


def test_falling_below_safety_stock_opens_one_suggestion(floor):
    product = ProductFactory(safety_stock=Decimal(5))
    stock_move(product=product, location=floor, quantity=Decimal(8), kind=MovementKind.RECEIPT)
    stock_move(product=product, location=floor, quantity=Decimal(-2), kind=MovementKind.SALE)
    assert not ReplenishmentSuggestion.objects.exists()
    stock_move(product=product, location=floor, quantity=Decimal(-2), kind=MovementKind.SALE)
    stock_move(product=product, location=floor, quantity=Decimal(-1), kind=MovementKind.SALE)
    suggestion = ReplenishmentSuggestion.objects.get()
    assert suggestion.product == product and suggestion.status == "open"
    assert suggestion.on_hand_when_raised == 4


def test_ledger_invariant_holds_after_random_mixed_operations(floor, backroom):
    products = ProductFactory.create_batch(6, safety_stock=Decimal(3))
    rng = random.Random(7)
    kinds = [MovementKind.RECEIPT, MovementKind.SALE, MovementKind.ADJUSTMENT, MovementKind.RETURN]
    for _ in range(200):
        product, location = rng.choice(products), rng.choice([floor, backroom])
        kind = rng.choice(kinds)
        quantity = Decimal(rng.randint(1, 9)) * (-1 if kind in (MovementKind.SALE, MovementKind.ADJUSTMENT) else 1)
        try:
            stock_move(product=product, location=location, quantity=quantity, kind=kind)
        except InsufficientStock:
            pass
    assert ledger_mismatches() == []
    for level in StockLevel.objects.all():
        assert level.on_hand >= 0
    call_command("check_stock_ledger")


def test_check_stock_ledger_fails_on_a_level_changed_behind_the_service(floor):
    product = ProductFactory()
    stock_move(product=product, location=floor, quantity=Decimal(5), kind=MovementKind.RECEIPT)
    StockLevel.objects.filter(product=product).update(on_hand=Decimal(99))
    with pytest.raises(CommandError, match="1 stock level"):
        call_command("check_stock_ledger")


class TestLedgerIsAppendOnly:
    @pytest.fixture
    def movement(self, floor):
        return stock_move(product=ProductFactory(), location=floor, quantity=Decimal(5), kind=MovementKind.RECEIPT)

    def test_orm_save_and_delete_are_refused(self, movement):
        movement.quantity = Decimal(500)
        with pytest.raises(PermissionError):
            movement.save()
        with pytest.raises(PermissionError):
            movement.delete()

    def test_queryset_update_is_refused_by_the_database(self, movement):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            StockMovement.objects.filter(pk=movement.pk).update(quantity=Decimal(500))
        movement.refresh_from_db()
        assert movement.quantity == 5

    def test_raw_sql_delete_is_refused_by_the_database(self, movement):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM stock_stockmovement WHERE id = %s", [movement.pk])
        assert StockMovement.objects.filter(pk=movement.pk).exists()


def test_a_document_with_more_lines_than_one_statement_can_carry_is_written_whole(floor):
    # 6,000 ledger rows of 14 columns are 84,000 values: over PostgreSQL's 65,535 parameters for one statement.
    category = ProductFactory().category
    products = Product.objects.bulk_create(
        Product(
            barcode=ean13(8_000_000 + i),
            name=f"盘点 {i}",
            category=category,
            purchase_price=Decimal("0.50"),
            selling_price=Decimal("1.00"),
        )
        for i in range(6_000)
    )
    movements = stock_move_batch(
        moves=[Move(p, floor, Decimal(i % 7 + 1)) for i, p in enumerate(products)], kind=MovementKind.STOCKTAKE
    )
    assert len({m.pk for m in movements}) == 6_000 and None not in {m.pk for m in movements}
    assert StockMovement.objects.filter(kind=MovementKind.STOCKTAKE).count() == 6_000
    assert on_hand(products[-1], floor) == Decimal(5999 % 7 + 1)
    assert ledger_mismatches() == []


@pytest.mark.parametrize(
    "amount", [Decimal("1.2345"), Decimal("NaN"), Decimal("Infinity"), 0.1, Decimal(10**11), Decimal("1E+30")]
)
def test_a_quantity_the_ledger_cannot_keep_exactly_is_refused_and_nothing_moves(floor, amount):
    product = ProductFactory(unit="kg")
    with pytest.raises(ValueError, match="at most three decimals and 11 digits"):
        stock_move_batch(moves=[Move(product, floor, amount)], kind=MovementKind.RECEIPT)
    assert not StockMovement.objects.exists()
    assert not StockLevel.objects.filter(on_hand__gt=0).exists()
