import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from checkout.models import Payment, Register, Sale, SaleLine
from checkout.pricing import CheckoutError, LineInput, PaymentInput
from checkout.services import NoOpenShift, NotApproved, sale_complete, shift_close
from reports.models import SalesDaily
from stock.models import Lot, MovementKind, ReplenishmentSuggestion, StockLevel, StockMovement
from stock.selectors import ledger_mismatches
from stock.services import ExpiredStock, InsufficientStock, Move, stock_move_batch

pytestmark = pytest.mark.django_db


def on_hand(product, location) -> Decimal:
    return sum(
        StockLevel.objects.filter(product=product, location=location).values_list("on_hand", flat=True), Decimal(0)
    )


def test_sale_moves_stock_writes_lines_payments_and_rollup(register, shift, cashier, stocked, floor):
    milk, bread = stocked(2, on_hand=Decimal(10), selling_price=Decimal("4.50"), purchase_price=Decimal("3.00"))
    result = sale_complete(
        client_token=uuid.uuid4(),
        register=register,
        lines=[LineInput(milk, Decimal(3)), LineInput(bread, Decimal(1))],
        payments=[PaymentInput("cash", Decimal("20.00"))],
        user=cashier,
    )
    sale = result.sale
    assert result.created
    assert sale.number.startswith(f"T01-{timezone.localdate():%Y%m%d}-")
    assert sale.total == Decimal("18.00")
    assert sale.change == Decimal("2.00")
    assert sale.shift == shift
    assert on_hand(milk, floor) == 7
    assert on_hand(bread, floor) == 9
    movements = StockMovement.objects.filter(kind=MovementKind.SALE, reference=sale.number)
    assert sorted(m.quantity for m in movements) == [Decimal(-3), Decimal(-1)]
    assert [(line.product, line.quantity, line.amount) for line in SaleLine.objects.filter(sale=sale)] == [
        (milk, Decimal(3), Decimal("13.50")),
        (bread, Decimal(1), Decimal("4.50")),
    ]
    assert SalesDaily.objects.get(product=milk).quantity == 3
    assert SalesDaily.objects.get(product=milk).cost == Decimal("9.0000")
    assert ledger_mismatches() == []


def test_a_sale_goes_to_the_database_in_few_statements(register, shift, cashier, stocked, floor):
    """After the level rows' lock, the sale with its lines and payments, the stock update, ledger and daily rollups
    are one statement, so a popular product's rows stay locked only for that statement and the commit."""
    products = stocked(5, on_hand=Decimal(10))
    first = [LineInput(products[0], Decimal(1))]
    # A worker's first sale also reads what it keeps: the promotions in force, the sale's content type.
    sale_complete(
        client_token=uuid.uuid4(),
        register=register,
        lines=first,
        payments=[PaymentInput("cash", Decimal(99))],
        user=cashier,
    )
    with CaptureQueriesContext(connection) as queries:
        sale = sale_complete(
            client_token=uuid.uuid4(),
            register=register,
            lines=[LineInput(p, Decimal(2)) for p in products],
            payments=[PaymentInput("cash", Decimal("100.00"))],
            user=cashier,
        ).sale
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # The token's check, the shift's lock, the level rows' lock, then every write.
    assert len(statements) == 4, "\n".join(s[:100] for s in statements)
    assert "FOR UPDATE" in statements[2] and "stock_stocklevel" in statements[2]
    written = statements[3]
    tables = ("checkout_sale", "checkout_saleline", "checkout_payment", "stock_stocklevel", "stock_stockmovement")
    assert all(table in written for table in (*tables, "reports_salesdaily"))
    assert [on_hand(p, floor) for p in products] == [Decimal(7)] + [Decimal(8)] * 4
    assert SaleLine.objects.filter(sale=sale).count() == 5 and Payment.objects.get(sale=sale).amount == 100
    assert [SalesDaily.objects.get(product=p).quantity for p in products] == [Decimal(3)] + [Decimal(2)] * 4
    assert ledger_mismatches() == []


def test_tax_is_the_tax_included_in_each_line(register, shift, cashier, stocked):
    (food,) = stocked(1, selling_price=Decimal("10.90"), tax_rate=Decimal("9.00"))
    (drink,) = stocked(1, selling_price=Decimal("11.30"), tax_rate=Decimal("13.00"))
    sale = sale_complete(
        client_token=uuid.uuid4(),
        register=register,
        lines=[LineInput(food, Decimal(1)), LineInput(drink, Decimal(1))],
        payments=[PaymentInput("card", Decimal("22.20"))],
        user=cashier,
    ).sale
    assert sale.tax == Decimal("0.90") + Decimal("1.30")


def test_sale_with_same_token_twice_is_one_sale(register, shift, cashier, stocked, floor):
    (product,) = stocked(1, on_hand=Decimal(10))
    token = uuid.uuid4()
    kwargs = dict(
        client_token=token,
        register=register,
        lines=[LineInput(product, Decimal(2))],
        payments=[PaymentInput("cash", Decimal("9.00"))],
        user=cashier,
    )
    first = sale_complete(**kwargs)
    second = sale_complete(**kwargs)
    assert first.created and not second.created
    assert second.sale.pk == first.sale.pk
    assert Sale.objects.count() == 1
    assert on_hand(product, floor) == 8


def test_not_enough_stock_changes_nothing(register, shift, cashier, stocked, floor):
    plenty, scarce = stocked(2, on_hand=Decimal(2))
    with pytest.raises(InsufficientStock, match="2 left, 3 requested"):
        sale_complete(
            client_token=uuid.uuid4(),
            register=register,
            lines=[LineInput(plenty, Decimal(1)), LineInput(scarce, Decimal(3))],
            payments=[PaymentInput("cash", Decimal("20.00"))],
            user=cashier,
        )
    assert Sale.objects.count() == 0
    assert Payment.objects.count() == 0
    assert on_hand(plenty, floor) == 2
    assert not SalesDaily.objects.exists()


@pytest.mark.parametrize(
    ("payments", "field", "message"),
    [
        ([PaymentInput("cash", Decimal("4.00"))], "payments", "do not cover"),
        ([PaymentInput("card", Decimal("5.00"))], "payments", "Only cash"),
        ([PaymentInput("bitcoin", Decimal("4.50"))], "payments[0].method", "Unknown payment method"),
        ([PaymentInput("cash", Decimal("4.505"))], "payments[0].amount", "two decimals"),
        ([], "payments", "at least one payment"),
    ],
)
def test_bad_payments_are_refused_naming_the_field(register, shift, cashier, stocked, payments, field, message):
    (product,) = stocked(1)
    with pytest.raises(CheckoutError, match=message) as caught:
        sale_complete(
            client_token=uuid.uuid4(),
            register=register,
            lines=[LineInput(product, Decimal(1))],
            payments=payments,
            user=cashier,
        )
    assert caught.value.field == field
    assert Sale.objects.count() == 0


def test_split_tender_with_cash_change(register, shift, cashier, stocked):
    (product,) = stocked(1, selling_price=Decimal("30.00"))
    sale = sale_complete(
        client_token=uuid.uuid4(),
        register=register,
        lines=[LineInput(product, Decimal(1))],
        payments=[
            PaymentInput("wechat", Decimal("20.00"), "WX4200001"),
            PaymentInput("cash", Decimal("20.00")),
        ],
        user=cashier,
    ).sale
    assert sale.change == Decimal("10.00")
    assert sorted(sale.payments.values_list("method", "reference")) == [("cash", ""), ("wechat", "WX4200001")]


def test_piece_goods_need_whole_quantities(register, shift, cashier, stocked):
    (product,) = stocked(1)
    with pytest.raises(CheckoutError, match="whole number") as caught:
        sale_complete(
            client_token=uuid.uuid4(),
            register=register,
            lines=[LineInput(product, Decimal("1.5"))],
            payments=[PaymentInput("cash", Decimal("10"))],
            user=cashier,
        )
    assert caught.value.field == "lines[0].quantity"


def test_closed_shift_takes_no_sales(register, shift, cashier, stocked, floor):
    (product,) = stocked(1, on_hand=Decimal(5))
    shift_close(shift=shift, counted_cash=Decimal("200.00"), user=cashier)
    with pytest.raises(NoOpenShift):
        sale_complete(
            client_token=uuid.uuid4(),
            register=register,
            lines=[LineInput(product, Decimal(1))],
            payments=[PaymentInput("cash", Decimal("4.50"))],
            user=cashier,
        )
    assert on_hand(product, floor) == 5


def test_online_register_needs_no_shift(cashier, stocked):
    (product,) = stocked(1)
    sale = sale_complete(
        client_token=uuid.uuid4(),
        register=Register.online_register(),
        lines=[LineInput(product, Decimal(1))],
        payments=[PaymentInput("alipay", Decimal("4.50"), "ALI001")],
        user=cashier,
    ).sale
    assert sale.shift is None
    assert sale.number.startswith("WEB-")


def test_sale_below_safety_stock_opens_a_replenishment_suggestion(register, shift, cashier, stocked, floor):
    (product,) = stocked(1, on_hand=Decimal(6), safety_stock=Decimal(5))
    sale_complete(
        client_token=uuid.uuid4(),
        register=register,
        lines=[LineInput(product, Decimal(2))],
        payments=[PaymentInput("cash", Decimal("9.00"))],
        user=cashier,
    )
    assert ReplenishmentSuggestion.objects.filter(product=product, location=floor, status="open").count() == 1


@pytest.fixture
def yogurt_lots(floor):
    from tests.factories import ProductFactory

    product = ProductFactory(lot_tracked=True)
    today = timezone.localdate()
    expired = Lot.objects.create(product=product, code="OLD", expiry_date=today - timedelta(days=1))
    soon = Lot.objects.create(product=product, code="SOON", expiry_date=today + timedelta(days=2))
    later = Lot.objects.create(product=product, code="LATER", expiry_date=today + timedelta(days=9))
    stock_move_batch(
        moves=[Move(product, floor, Decimal(3), lot) for lot in (expired, soon, later)], kind=MovementKind.RECEIPT
    )
    return product, expired, soon, later


def _sell_yogurt(register, cashier, product, quantity, **kwargs):
    return sale_complete(
        client_token=uuid.uuid4(),
        register=register,
        lines=[LineInput(product, Decimal(quantity))],
        payments=[PaymentInput("cash", Decimal("100"))],
        user=cashier,
        **kwargs,
    )


def test_sale_takes_the_lot_that_expires_first_and_never_an_expired_one(register, shift, cashier, yogurt_lots, floor):
    product, expired, soon, later = yogurt_lots
    _sell_yogurt(register, cashier, product, 4)
    levels = dict(StockLevel.objects.filter(product=product, lot__isnull=False).values_list("lot__code", "on_hand"))
    assert levels == {"OLD": 3, "SOON": 0, "LATER": 2}


def test_only_expired_stock_left_is_refused_unless_a_manager_approves(
    register, shift, cashier, manager, yogurt_lots, floor
):
    product, *_lots = yogurt_lots
    _sell_yogurt(register, cashier, product, 6)
    with pytest.raises(ExpiredStock, match="manager must approve"):
        _sell_yogurt(register, cashier, product, 1)
    with pytest.raises(NotApproved):
        _sell_yogurt(register, cashier, product, 1, approved_by=cashier)
    sale = _sell_yogurt(register, cashier, product, 1, approved_by=manager).sale
    assert sale.approved_by == manager
    assert StockLevel.objects.get(product=product, lot__code="OLD").on_hand == 2
