"""Reads shared by the till, the receipt, the shift pages, the API and the benchmarks."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, OuterRef, Prefetch, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from checkout.models import (
    Cart,
    CartLine,
    Payment,
    PaymentMethod,
    Refund,
    Register,
    ReturnLine,
    Sale,
    SaleLine,
    Shift,
)
from checkout.pricing import LineInput, PricedLine, Totals, price_lines
from stock.models import Location, StockLevel
from supermarket.money import money

ZERO = Decimal("0")


@dataclass(frozen=True)
class Available:
    on_hand: Decimal
    unexpired: Decimal


def stock_available(product_ids: Iterable[int], location: Location) -> dict[int, Available]:
    """On hand per product at a location, read from the database of record: all lots, and lots not yet expired."""
    today = timezone.localdate()
    rows = (
        StockLevel.objects.filter(product_id__in=set(product_ids), location=location)
        .values("product_id")
        .annotate(
            total=Sum("on_hand"),
            unexpired=Sum("on_hand", filter=Q(lot__isnull=True) | ~Q(lot__expiry_date__lt=today)),
        )
        .order_by()
    )
    return {r["product_id"]: Available(r["total"] or ZERO, r["unexpired"] or ZERO) for r in rows}


@dataclass(frozen=True)
class BasketLine:
    pk: int
    priced: PricedLine
    on_hand_after: Decimal
    label_priced: bool


@dataclass(frozen=True)
class Basket:
    cart: Cart
    lines: list[BasketLine]
    totals: Totals


def cart_lines(cart: Cart) -> list[CartLine]:
    return list(CartLine.objects.filter(cart=cart).select_related("product").order_by("pk"))


def cart_inputs(lines: Iterable[CartLine]) -> list[LineInput]:
    return [LineInput(product=ln.product, quantity=ln.quantity, amount=ln.amount, code=ln.code) for ln in lines]


def _line_on_hand(location_id: int) -> Coalesce:
    total = (
        StockLevel.objects.filter(product=OuterRef("product_id"), location_id=location_id)
        .order_by()
        .values("product")
        .annotate(total=Sum("on_hand"))
        .values("total")
    )
    return Coalesce(Subquery(total), Value(ZERO), output_field=DecimalField(max_digits=14, decimal_places=3))


def basket(cart: Cart) -> Basket:
    """The till's basket: priced lines, totals, and on-hand after this sale from the database of record."""
    # One query: the lines with their product and its on-hand at the register's location.
    lines = list(
        CartLine.objects.filter(cart=cart)
        .select_related("product")
        .annotate(on_hand=_line_on_hand(cart.register.location_id))
        .order_by("pk")
    )
    totals = price_lines(cart_inputs(lines))
    in_cart: dict[int, Decimal] = {}
    for ln in lines:
        in_cart[ln.product_id] = in_cart.get(ln.product_id, ZERO) + ln.quantity
    rows = [
        BasketLine(
            pk=ln.pk,
            priced=priced,
            on_hand_after=ln.on_hand - in_cart[ln.product_id],
            label_priced=ln.amount is not None,
        )
        for ln, priced in zip(lines, totals.lines, strict=True)
    ]
    return Basket(cart=cart, lines=rows, totals=totals)


def till_carts(register: Register) -> tuple[Cart | None, list[Cart]]:
    """The register's open cart and its held carts (with line_count), in one query."""
    carts = list(
        Cart.objects.filter(register=register)
        .select_related("cashier")
        .annotate(line_count=Count("lines"))
        .order_by("held_at", "pk")
    )
    for cart in carts:
        cart.register = register  # the caller's instance, with its location: no query per cart
    open_cart = next((c for c in carts if c.status == Cart.Status.OPEN), None)
    return open_cart, [c for c in carts if c.status == Cart.Status.HELD]


def open_shift(register: Register) -> Shift | None:
    return Shift.objects.filter(register=register, closed_at__isnull=True).first()


def last_sale_number(register: Register) -> str | None:
    """For reprinting the receipt the customer just walked away without."""
    return Sale.objects.filter(register=register).order_by("-pk").values_list("number", flat=True).first()


def sale_number_for_token(token) -> str | None:
    """The number of the sale completed with this client token, if there is one (None for a malformed token)."""
    try:
        token = uuid.UUID(str(token))
    except ValueError:
        return None
    return Sale.objects.filter(client_token=token).values_list("number", flat=True).first()


def sale_by_number(number: str) -> Sale | None:
    return (
        Sale.objects.select_related("register", "cashier", "shift")
        .prefetch_related(Prefetch("lines", queryset=SaleLine.objects.select_related("product")), "payments")
        .filter(number=number.strip())
        .first()
    )


def returned_so_far(sale: Sale) -> dict[int, tuple[Decimal, Decimal]]:
    """Quantity and amount already returned, per sale line id."""
    rows = (
        ReturnLine.objects.filter(sale_line__sale=sale)
        .values("sale_line_id")
        .annotate(quantity=Sum("quantity"), amount=Sum("amount"))
        .order_by()
    )
    return {r["sale_line_id"]: (r["quantity"], r["amount"]) for r in rows}


@dataclass
class MethodTotal:
    method: str
    label: str
    count: int = 0
    amount: Decimal = ZERO


@dataclass
class ZReport:
    shift: Shift
    sale_count: int
    sales_total: Decimal
    tax_total: Decimal
    change_given: Decimal
    sales_by_method: list[MethodTotal] = field(default_factory=list)
    refund_count: int = 0
    refunds_by_method: list[MethodTotal] = field(default_factory=list)
    expected_cash: Decimal = ZERO

    @property
    def refunds_total(self) -> Decimal:
        return sum((m.amount for m in self.refunds_by_method), ZERO)

    @property
    def difference(self) -> Decimal | None:
        return None if self.shift.counted_cash is None else self.shift.counted_cash - self.expected_cash


def _by_method(rows) -> list[MethodTotal]:
    found = {r["method"]: r for r in rows}
    return [
        MethodTotal(
            method=value,
            label=label,
            count=found[value]["n"] if value in found else 0,
            # money(): SQLite (the embedded demo) sums decimals as floats.
            amount=money(found[value]["amount"]) if value in found else ZERO,
        )
        for value, label in PaymentMethod.choices
    ]


def shift_report(shift: Shift) -> ZReport:
    """The Z-report: sales and refunds by payment method, expected cash. A handful of aggregate queries,
    whatever the number of sales, because stock was posted at each sale."""
    sales = Sale.objects.filter(shift=shift).aggregate(
        n=Count("pk"), total=Sum("total"), tax=Sum("tax"), change=Sum("change")
    )
    by_method = _by_method(
        Payment.objects.filter(sale__shift=shift).values("method").annotate(n=Count("pk"), amount=Sum("amount"))
    )
    refunds = _by_method(
        Refund.objects.filter(ret__shift=shift).values("method").annotate(n=Count("pk"), amount=Sum("amount"))
    )
    change = money(sales["change"] or ZERO)
    cash_in = next(m.amount for m in by_method if m.method == PaymentMethod.CASH)
    cash_out = next(m.amount for m in refunds if m.method == PaymentMethod.CASH)
    return ZReport(
        shift=shift,
        sale_count=sales["n"],
        sales_total=money(sales["total"] or ZERO),
        tax_total=money(sales["tax"] or ZERO),
        change_given=change,
        sales_by_method=by_method,
        refund_count=sum(m.count for m in refunds),
        refunds_by_method=refunds,
        expected_cash=shift.opening_float + cash_in - change - cash_out,
    )
