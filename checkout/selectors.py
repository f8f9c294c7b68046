"""Reads shared by the till, the receipt, the shift pages, the API and the benchmarks."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Prefetch, Q, Sum
from django.utils import timezone

from catalog.cache import products_by_id
from checkout.cache import registers
from checkout.models import (
    Cart,
    CartLine,
    Payment,
    PaymentMethod,
    Refund,
    Register,
    Return,
    ReturnLine,
    Sale,
    SaleLine,
    Shift,
)
from checkout.pricing import LineInput, PricedLine, Totals, price_lines
from stock.models import Location, Lot, MovementKind, StockLevel, StockMovement
from supermarket.money import money, quantity

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
    label_priced: bool  # the amount is a scale label's
    overridden: bool  # the price is a manager's


@dataclass(frozen=True)
class Basket:
    cart: Cart
    lines: list[BasketLine]
    totals: Totals


def cart_lines(cart: Cart) -> list[CartLine]:
    return list(CartLine.objects.filter(cart=cart).select_related("product").order_by("pk"))


def cart_inputs(lines: Iterable[CartLine]) -> list[LineInput]:
    return [
        LineInput(product=ln.product, quantity=ln.quantity, amount=ln.amount, code=ln.code, unit_price=ln.unit_price)
        for ln in lines
    ]


# The basket and the register's carts are read at every scan, so they are written as SQL: compiling the ORM's
# queries with their subqueries cost as much as running them. Raw querysets still convert each model column.
_BASKET_SQL = (
    "SELECT cl.id, cl.cart_id, cl.product_id, cl.code, cl.quantity, cl.amount, cl.unit_price,"
    " (SELECT COALESCE(SUM(lv.on_hand), 0) FROM {levels} lv"
    "  WHERE lv.product_id = cl.product_id AND lv.location_id = %s) AS on_hand"
    " FROM {lines} cl WHERE cl.cart_id = %s ORDER BY cl.id"
)
_CARTS_SQL = (
    "SELECT c.*, (SELECT COUNT(*) FROM {lines} cl WHERE cl.cart_id = c.id) AS line_count"
    " FROM {carts} c WHERE c.register_id = %s ORDER BY c.held_at, c.id"
)


def basket(cart: Cart) -> Basket:
    """The till's basket: priced lines, totals, and on-hand after this sale from the database of record."""
    # One query: the lines with their on-hand at the register's location; the products from the worker's cache,
    # dropped in every worker when a product changes.
    sql = _BASKET_SQL.format(levels=StockLevel._meta.db_table, lines=CartLine._meta.db_table)
    lines = list(CartLine.objects.raw(sql, [cart.register.location_id, cart.pk]))
    products = products_by_id({ln.product_id for ln in lines})
    for ln in lines:
        ln.product = products[ln.product_id]
    totals = price_lines(cart_inputs(lines))
    in_cart: dict[int, Decimal] = {}
    for ln in lines:
        in_cart[ln.product_id] = in_cart.get(ln.product_id, ZERO) + ln.quantity
    rows = [
        BasketLine(
            pk=ln.pk,
            priced=priced,
            on_hand_after=quantity(ln.on_hand) - in_cart[ln.product_id],
            label_priced=ln.amount is not None and ln.unit_price is None,
            overridden=ln.unit_price is not None,
        )
        for ln, priced in zip(lines, totals.lines, strict=True)
    ]
    return Basket(cart=cart, lines=rows, totals=totals)


def till_carts(register: Register) -> tuple[Cart | None, list[Cart]]:
    """The register's open cart and its held carts, each with its line_count, in one query."""
    sql = _CARTS_SQL.format(lines=CartLine._meta.db_table, carts=Cart._meta.db_table)
    carts = list(Cart.objects.raw(sql, [register.pk]))
    for cart in carts:
        cart.register = register  # the caller's instance, with its location: no query per cart
    open_cart = next((c for c in carts if c.status == Cart.Status.OPEN), None)
    return open_cart, [c for c in carts if c.status == Cart.Status.HELD]


@dataclass(frozen=True)
class Till:
    register: Register
    cart: Cart | None
    held: list[Cart]


def _register_by_id(register_id: int) -> Register | None:
    return Register.objects.select_related("location").filter(pk=register_id).first()


def till_bound(register_id: int) -> Till | None:
    """The active in-store register with this id (with its location), its open cart and its held carts; None if
    there is no such register. The register comes from the worker's cache (checkout.cache, dropped when a register
    or location changes), so a scan reads only the carts."""
    register = registers.get(("pk", register_id), lambda: _register_by_id(register_id))
    if register is None or not register.active or register.online:
        return None
    return Till(register, *till_carts(register))


def open_shift(register: Register) -> Shift | None:
    return Shift.objects.filter(register=register, closed_at__isnull=True).first()


def last_sale_number(register: Register, user) -> str | None:
    """For reprinting the receipt the customer just walked away without: the register's last sale, or the user's
    own last sale there for a user who may open only their own receipts (checkout.view_sale opens any)."""
    sales = Sale.objects.filter(register=register)
    if not user.has_perm("checkout.view_sale"):
        sales = sales.filter(cashier=user)
    return sales.order_by("-pk").values_list("number", flat=True).first()


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
        .filter(number=number)
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


def _return_order(lot: Lot | None) -> tuple:
    # The reverse of the sale's FEFO order (stock.services._expiry_order): no lot first, then the lot expiring last.
    if lot is None:
        return (1, date.max, 0)
    return (0, lot.expiry_date or date.max, lot.pk)


def return_lots(sale: Sale, quantities: dict[int, Decimal]) -> list[tuple[int, Lot | None, Decimal]]:
    """Where the returned goods of a sale go back, as (product id, lot, quantity), for quantities by product id.

    The rule: a return undoes the sale's takings in reverse. The sale took a lot-tracked product from the lot
    expiring first, then the next, and stock without a lot last; so a return puts back first what the sale took
    without a lot, then into its lots from the one expiring last to the one expiring first. Never more goes back
    to a lot than the sale took from it less what the sale's earlier returns put back there, so a sale returned in
    parts leaves every lot where it was before the sale. A product the sale took without lots goes back without one.

    Reads the sale's ledger (the movements of the sale and of its returns) in one query, and the lots in one more.
    Call it with the sale row locked, as sale_return does, so that two returns cannot both count the same lot free.
    """
    documents = Q(document_type=ContentType.objects.get_for_model(Sale), document_id=sale.pk, kind=MovementKind.SALE)
    documents |= Q(
        document_type=ContentType.objects.get_for_model(Return),
        document_id__in=Return.objects.filter(sale=sale).values("pk"),
        kind=MovementKind.RETURN,
    )
    rows = (
        StockMovement.objects.filter(documents, product_id__in=list(quantities), location_id=sale.location_id)
        .values("product_id", "lot_id")
        .annotate(net=Sum("quantity"))
        .order_by()
    )
    left: dict[int, dict[int | None, Decimal]] = {}
    for row in rows:
        left.setdefault(row["product_id"], {})[row["lot_id"]] = -row["net"]
    lots = Lot.objects.in_bulk({lot_id for by_lot in left.values() for lot_id in by_lot if lot_id is not None})
    result = []
    for product_id, wanted in quantities.items():
        by_lot = sorted(
            ((lots.get(lot_id), q) for lot_id, q in left.get(product_id, {}).items()),
            key=lambda pair: _return_order(pair[0]),
            reverse=True,
        )
        # Returns recorded before lots were followed put everything back without a lot: what they put back beyond
        # what the sale took without a lot is counted against the lots this rule would have filled first.
        excess = sum((-q for _lot, q in by_lot if q < 0), ZERO)
        for lot, q in by_lot:
            free = max(q, ZERO)
            used = min(free, excess)
            excess -= used
            give = min(free - used, wanted)
            if give > 0:
                result.append((product_id, lot, give))
                wanted -= give
        if wanted > 0:
            # More than the ledger shows taken (not expected: returns are checked against the sale's lines).
            result.append((product_id, None, wanted))
    return result


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
