"""Checkout writes: sales, returns, shifts and the till's cart. Stock changes go through stock.services only."""

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.selectors import Scan
from checkout.models import (
    ApiToken,
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
from checkout.pricing import (
    CheckoutError,
    LineInput,
    PaymentInput,
    PriceChanged,
    Tender,
    Totals,
    check_chargeable,
    check_quantity,
    price_lines,
    tender,
)
from checkout.promotions import promotion_claim
from checkout.selectors import (
    Basket,
    basket,
    cart_inputs,
    cart_lines,
    return_lots,
    returned_so_far,
    shift_report,
    stock_available,
)
from reports.services import SoldLine, sales_daily_add, sales_daily_statement
from stock.models import MovementKind
from stock.services import InsufficientStock, Move, stock_move_batch
from supermarket import metrics
from supermarket.models import OverrideKind
from supermarket.money import money, quantity_text, tax_included
from supermarket.overrides import override_record, stock_limit_approved
from supermarket.sql import insert_all

ZERO = Decimal("0")
LARGEST_NOTE = Decimal("100")  # yuan
# Past these an amount is a slip of the keys or a barcode scanned into the field, not the cash in a till's drawer.
LARGEST_FLOAT = Decimal("20000")  # yuan: a float is a few hundred yuan of change, a busy till's a couple of thousand
LARGEST_COUNTED_CASH = Decimal("1000000")  # yuan: ten thousand ¥100 notes, far past a busy shift's cash takings


class NoOpenShift(CheckoutError):
    """The register has no open shift: it takes no sales and no refunds until one is opened."""

    def __init__(self, register: Register):
        super().__init__(
            _("Register %(code)s has no open shift: open a shift before selling.") % {"code": register.code},
            field="register",
        )


class CartGone(CheckoutError):
    """The till's open cart was dropped after the till read it and before a scan's line reached it: by shift_close
    (which drops an empty basket), or by a payment, cancel or recall in another window."""

    def __init__(self, register: Register, *, shift_closed: bool):
        if shift_closed:
            message = _(
                "The shift on register %(code)s was closed before this scan reached it: open a shift to sell."
            ) % {"code": register.code}
        else:
            message = _("The sale on screen ended in another window before this scan reached it: scan the item again.")
        super().__init__(message, field="cart")


class NotApproved(CheckoutError):
    """A manager's approval was needed and the approver lacks the permission."""


class TokenReused(CheckoutError):
    """The client token already completed a different sale: a retry must repeat its request unchanged."""

    def __init__(self, sale: Sale):
        super().__init__(
            _(
                "client_token was already used for sale %(number)s with other lines or payments: "
                "a retry must send the same request, a new sale needs a new token."
            )
            % {"number": sale.number},
            field="client_token",
        )


@dataclass(frozen=True)
class SaleResult:
    """The sale; for a sale created by this call also its lines and payments, so the answer needs no re-read."""

    sale: Sale
    created: bool
    lines: list[SaleLine] | None = None
    payments: list[Payment] | None = None


def _sale_number(register: Register, sale: Sale) -> str:
    return f"{register.code}-{timezone.localdate(sale.created_at):%Y%m%d}-{sale.pk:06d}"


def request_fingerprint(register: Register, lines: Sequence[LineInput], payments: Sequence[PaymentInput]) -> str:
    """What a sale request asked for, as a digest: a repeated token must come with the same one."""
    parts = [str(register.pk)]
    parts += [f"{ln.product.pk}:{quantity_text(ln.quantity)}:{ln.amount}" for ln in lines]
    parts += [f"{p.method}:{p.amount.normalize():f}:{p.reference}" for p in payments]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _repeat(sale: Sale, fingerprint: str) -> SaleResult:
    # Sales written before fingerprints were kept have none: they are taken as the same request.
    if sale.request_hash and sale.request_hash != fingerprint:
        raise TokenReused(sale)
    return SaleResult(sale, created=False)


def _require_permission(user, perm: str, message: str) -> None:
    if user is None or not user.has_perm(perm):
        raise NotApproved(message, field="manager")


def sale_complete(
    *,
    client_token: uuid.UUID,
    register: Register,
    lines: Sequence[LineInput],
    payments: Sequence[PaymentInput],
    user,
    approved_by=None,
    cart_approvals: bool = False,
    change_limit: Decimal | None = None,
    expected_total: Decimal | None = None,
) -> SaleResult:
    """Complete a whole sale in one transaction, exactly once per client token.

    A token seen before returns the first sale (created=False) and changes nothing, including
    when two requests with the same token race: the loser waits on the winner's stock rows, then on the token's
    unique index, and finds the winner's sale (also when the winner took the last of the stock the loser wanted).
    A token seen before with other lines or payments raises TokenReused.
    Otherwise: validates lines and payments (CheckoutError naming the field), takes the register's open
    shift with a lock that shift_close waits for (NoOpenShift if there is none), and in one stock_move_batch locks
    the lines' stock, checks it (InsufficientStock / ExpiredStock unless a manager with checkout.override_expired
    approved) and writes the stock, the sale with its lines and payments and the daily rollups.
    With cart_approvals (the till's checkout of its own cart, whose token is the client token), a manager's approval
    given on that cart to sell a product past the stock on hand lets the sale take that product's on-hand below zero
    (another short line is still refused); no other caller's sale can borrow it by sending the cart's token.
    With change_limit, cash that would give that much change or more is refused (pricing.tender).
    With expected_total (the total the customer was shown), a sale that prices to another total now (a promotion
    ended, a shelf price changed) is refused with PriceChanged before anything is written.
    """
    fingerprint = request_fingerprint(register, lines, payments)
    existing, sale_id = _sale_for_token(client_token)
    if existing is not None:
        return _repeat(existing, fingerprint)
    if not lines:
        raise CheckoutError(_("A sale needs at least one line."), field="lines")
    for i, line in enumerate(lines):
        check_quantity(line.product, line.quantity, field=f"lines[{i}].quantity")
        if line.amount is None:
            check_chargeable(line.product, line.quantity, field=f"lines[{i}].quantity")
        if not line.product.active:
            raise CheckoutError(
                _("%(name)s is inactive and cannot be sold.") % {"name": line.product.name}, field=f"lines[{i}].code"
            )
    if approved_by is not None:
        _require_permission(
            approved_by, "checkout.override_expired", _("Only a manager can allow expired stock to be sold.")
        )
    if not register.active:
        raise CheckoutError(_("Register %(code)s is not in use.") % {"code": register.code}, field="register")
    totals = price_lines(lines)
    if expected_total is not None and totals.total != expected_total:
        raise PriceChanged(total=totals.total, shown=expected_total)
    if not payments and totals.total:  # a sale at ¥0 (every line given away by a manager) takes no payment
        raise CheckoutError(_("A sale needs at least one payment."), field="payments")
    paid = tender(totals.total, payments, change_limit=change_limit)
    write = _SaleWrite(sale_id, client_token, fingerprint, register, totals, payments, paid, user, approved_by)
    try:
        result = write.once()
    except InsufficientStock:
        # The same request, still in flight, may have taken the stock while this one waited for its rows: its sale
        # is the answer. Otherwise a manager may have let this cart sell past the stock on hand; both are looked up
        # only when stock runs short, so an ordinary sale pays nothing for them.
        first = _first_sale(client_token, fingerprint)
        if first is not None:
            return first
        approved = stock_limit_approved(str(client_token)) if cart_approvals else frozenset()
        if not approved:
            raise
        result = write.once(past_stock=approved)
    if result.created:
        metrics.sale_recorded(register=register.code, total=result.sale.total)
    return result


def _first_sale(client_token: uuid.UUID, fingerprint: str) -> SaleResult | None:
    existing = Sale.objects.filter(client_token=client_token).first()
    return None if existing is None else _repeat(existing, fingerprint)


def _sale_for_token(client_token: uuid.UUID) -> tuple[Sale | None, int | None]:
    """The sale already completed with this token, if any, and on PostgreSQL an id for a new sale, both in one
    round trip: a new sale is then inserted with its number, not numbered by a second statement."""
    if connection.vendor != "postgresql":
        return Sale.objects.filter(client_token=client_token).first(), None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT id FROM {Sale._meta.db_table} WHERE client_token = %s), "
            "nextval(pg_get_serial_sequence(%s, 'id'))",
            [client_token, Sale._meta.db_table],
        )
        existing_id, sale_id = cursor.fetchone()
    return (Sale.objects.get(pk=existing_id) if existing_id is not None else None), sale_id


@dataclass(frozen=True)
class _SaleWrite:
    sale_id: int | None  # drawn in advance (PostgreSQL), or None to take the one the insert gives
    client_token: uuid.UUID
    fingerprint: str
    register: Register
    totals: Totals
    payments: Sequence[PaymentInput]
    paid: Tender
    user: object
    approved_by: object

    def once(self, past_stock: frozenset[int] = frozenset()) -> SaleResult:
        """The sale's writes in their own transaction; the first sale if the same token was written meanwhile.
        The products in past_stock may go below zero."""
        try:
            with transaction.atomic():
                return self.run(past_stock)
        except IntegrityError:
            first = _first_sale(self.client_token, self.fingerprint)
            if first is None:
                raise
            return first

    def run(self, past_stock: frozenset[int]) -> SaleResult:
        """The writes of one sale, inside the caller's transaction."""
        register, totals, user, approved_by = self.register, self.totals, self.user, self.approved_by
        shift = None
        if not register.online:
            # FOR NO KEY UPDATE: shift_close's FOR UPDATE waits for sales in flight, and a sale waits for a close.
            shift = (
                Shift.objects.select_for_update(no_key=True)
                .filter(register=register, closed_at__isnull=True)
                .only("pk")
                .first()
            )
            if shift is None:
                raise NoOpenShift(register)
        location = register.location
        sale = Sale(
            client_token=self.client_token,
            request_hash=self.fingerprint,
            register=register,
            shift=shift,
            location=location,
            cashier=user,
            approved_by=approved_by,
            item_count=totals.item_count,
            total=totals.total,
            tax=totals.tax,
            paid=self.paid.paid,
            change=self.paid.change,
        )
        if self.sale_id is not None:
            # Numbered before the insert: the sale goes in one statement with its lines, payments and stock.
            sale.pk = self.sale_id
            sale.number = _sale_number(register, sale)
        else:
            insert_all([sale])
            sale.number = _sale_number(register, sale)
            Sale.objects.filter(pk=sale.pk).update(number=sale.number)
        lines = [
            SaleLine(
                sale=sale,
                position=i,
                product=p.product,
                code=p.code,
                quantity=p.quantity,
                unit_price=p.unit_price,
                amount=p.amount,
                tax=p.tax,
                cost=p.cost,
                saving=p.saving,
                promotion=p.promotion,
            )
            for i, p in enumerate(totals.lines, start=1)
        ]
        payments = [Payment(sale=sale, method=p.method, amount=p.amount, reference=p.reference) for p in self.payments]
        # The sale's rows and daily rollups go with the stock, in its statement, once its checks have passed: the
        # stock rows (hot for a popular product) are held locked for that statement and the commit only.
        day = timezone.localdate(sale.created_at)
        statement = sales_daily_statement(
            [SoldLine(p.product.pk, location.pk, day, p.quantity, p.amount, p.cost) for p in totals.lines]
        )
        stock_move_batch(
            moves=[Move(p.product, location, -p.quantity, below_zero=p.product.pk in past_stock) for p in totals.lines],
            kind=MovementKind.SALE,
            reference=sale.number,
            document=sale,
            user=user,
            allow_expired=approved_by is not None,
            along=[statement] if statement is not None else [],
            rows=[[] if self.sale_id is None else [sale], lines, payments],
        )
        if approved_by is not None:
            override_record(
                kind=OverrideKind.EXPIRED,
                requested_by=user,
                approved_by=approved_by,
                register=register.code,
                reference=sale.number,
                amount=totals.total,
            )
        # After the stock and rollup rows, like every sale: promotion rows are locked in pk order, so tills cannot
        # deadlock.
        promotion_claim(claims=totals.claims)
        return SaleResult(sale, created=True, lines=lines, payments=payments)


def refunds_as_paid(sale: Sale, total: Decimal) -> list[tuple[str, Decimal]]:
    """How `total` goes back to a customer by the methods the sale was paid with: each card or wallet up to what it
    took less what was refunded to it already, and the rest in cash."""
    left: dict[str, Decimal] = {}
    for method, amount in sale.payments.values_list("method", "amount"):
        left[method] = left.get(method, ZERO) + amount
    for method, amount in Refund.objects.filter(ret__sale=sale).values_list("method", "amount"):
        left[method] = left.get(method, ZERO) - amount
    refunds, rest = [], total
    for method, amount in left.items():
        if method != PaymentMethod.CASH and amount > 0 and rest > 0:
            take = min(amount, rest)
            refunds.append((method, take))
            rest -= take
    if rest > 0:
        refunds.append((PaymentMethod.CASH, rest))
    return refunds


def return_sent_before(token: uuid.UUID | None, sale: Sale) -> Return | None:
    """The return a form with this one-time token made, if it was sent before; CheckoutError if that form made a
    return of another sale (a form sent again after its sale number was changed)."""
    first = None if token is None else Return.objects.filter(token=token).first()
    if first is not None and first.sale_id != sale.pk:
        raise CheckoutError(_("This form was sent already: open the page again."))
    return first


@transaction.atomic
def sale_return(
    *,
    sale: Sale,
    quantities: dict[int, Decimal],
    refund_method: str = "",
    register: Register,
    user,
    approved_by,
    reference: str = "",
    override: str = OverrideKind.REFUND,
    as_paid: bool = False,
    token=None,
) -> Return:
    """Take back goods from a sale, whole or partly, and record the refund by `refund_method`, or with `as_paid`
    by the methods the sale was paid with (refunds_as_paid: a void).

    Needs checkout.add_return on approved_by (a manager) and records the approval as a manager override
    of kind `override` (a refund, or a void when sale_void returns everything). Locks the sale row so that two returns
    of the same sale cannot together take back more than was sold; refuses any line beyond what is
    left (CheckoutError naming the line). A line returned in full refunds exactly what is left of its
    amount; a partial one its share. Stock goes back through stock_move_batch into the lots the sale took it from
    (return_lots: what the sale took last goes back first, never more to a lot than the sale took from it);
    rollups get negative lines. A return form's one-time `token` sent again answers with the return it made (read
    under the sale's lock, so also when both arrive at once), and nothing is refunded twice.
    """
    _require_permission(approved_by, "checkout.add_return", _("A return needs a manager's approval."))
    if not as_paid and refund_method not in PaymentMethod.values:
        raise CheckoutError(_("Choose how the refund is paid."), field="refund_method")
    sale = Sale.objects.select_for_update().get(pk=sale.pk)
    if (first := return_sent_before(token, sale)) is not None:
        return first
    sale_lines = {line.pk: line for line in SaleLine.objects.filter(sale=sale).select_related("product")}
    wanted = {pk: q for pk, q in quantities.items() if q}
    if not wanted:
        raise CheckoutError(_("Enter a quantity to return on at least one line."), field="lines")
    returned = returned_so_far(sale)
    priced = []
    for pk, qty in wanted.items():
        line = sale_lines.get(pk)
        if line is None:
            raise CheckoutError(_("Line %(pk)s is not part of sale %(number)s.") % {"pk": pk, "number": sale.number})
        check_quantity(line.product, qty, field=f"lines[{line.position}].quantity")
        returned_quantity, refunded = returned.get(pk, (ZERO, ZERO))
        left = line.quantity - returned_quantity
        if qty > left:
            raise CheckoutError(
                _("Line %(position)s (%(product)s): only %(left)s left to return, %(qty)s asked.")
                % {
                    "position": line.position,
                    "product": line.product.name,
                    "left": quantity_text(left),
                    "qty": quantity_text(qty),
                },
                field=f"lines[{line.position}].quantity",
            )
        amount = line.amount - refunded if qty == left else money(line.amount * qty / line.quantity)
        priced.append((line, qty, amount))
    shift = None
    if not register.online:
        # Held as a sale holds it: a close waits for the refund to be in its Z-report, or the return finds it closed.
        shift = Shift.objects.select_for_update(no_key=True).filter(register=register, closed_at__isnull=True).first()
        if shift is None:
            raise NoOpenShift(register)
    total = sum((a for _line, _q, a in priced), ZERO)
    ret = Return.objects.create(
        sale=sale,
        shift=shift,
        user=user,
        approved_by=approved_by,
        total=total,
        tax=sum((tax_included(a, line.product.tax_rate) for line, _q, a in priced), ZERO),
        token=token,
    )
    ReturnLine.objects.bulk_create(ReturnLine(ret=ret, sale_line=line, quantity=q, amount=a) for line, q, a in priced)
    refunds = refunds_as_paid(sale, total) if as_paid else [(refund_method, total)]
    Refund.objects.bulk_create(
        Refund(ret=ret, method=method, amount=amount, reference=reference) for method, amount in refunds if amount
    )
    override_record(
        kind=override,
        requested_by=user,
        approved_by=approved_by,
        register=register.code,
        reference=sale.number,
        amount=total,
    )
    # Goods go back into the lots the sale took them from (checkout.selectors.return_lots gives the rule).
    products, by_product = {}, {}
    for line, q, _a in priced:
        products[line.product_id] = line.product
        by_product[line.product_id] = by_product.get(line.product_id, ZERO) + q
    location = sale.location
    stock_move_batch(
        moves=[
            Move(product=products[product_id], location=location, quantity=q, lot=lot)
            for product_id, lot, q in return_lots(sale, by_product)
        ],
        kind=MovementKind.RETURN,
        reference=sale.number,
        document=ret,
        user=user,
    )
    day = timezone.localdate()
    sales_daily_add(
        lines=[
            SoldLine(line.product_id, sale.location_id, day, -q, -a, -(line.cost * q / line.quantity))
            for line, q, a in priced
        ]
    )
    return ret


@transaction.atomic
def shift_open(*, register: Register, opening_float: Decimal, user) -> Shift:
    """Open a shift with a cash float; one open shift per register (the partial unique index decides races).
    CheckoutError for a float below zero or above LARGEST_FLOAT."""
    if register.online:
        raise CheckoutError(_("The online register has no cash drawer and needs no shift."), field="register")
    if opening_float < 0:
        raise CheckoutError(_("The cash float cannot be negative."), field="opening_float")
    if opening_float > LARGEST_FLOAT:
        raise CheckoutError(
            _("The cash float cannot be more than ¥%(limit)s: check the amount.") % {"limit": f"{LARGEST_FLOAT:,}"},
            field="opening_float",
        )
    try:
        with transaction.atomic():
            return Shift.objects.create(register=register, opening_float=money(opening_float), opened_by=user)
    except IntegrityError:
        raise CheckoutError(
            _("Register %(code)s already has an open shift.") % {"code": register.code}, field="register"
        ) from None


@transaction.atomic
def shift_close(*, shift: Shift, counted_cash: Decimal, user) -> Shift:
    """Close a shift with the counted cash and store the expected cash from its Z-report.

    Locks the shift FOR UPDATE, so it waits for sales in flight on it and later sales find it closed. Refused while
    a sale is in progress on the register (its basket has lines): it is paid or cancelled first. An empty basket
    is dropped, so the next sale starts in the next shift; held sales stay with the register. CheckoutError for
    counted cash below zero or above LARGEST_COUNTED_CASH.
    """
    # The register's open basket is locked before the shift, as a payment locks them: a scan adding a line meanwhile
    # is seen here or waits (and then finds its basket gone), and a payment in flight finishes first.
    open_carts = Cart.objects.filter(register_id=shift.register_id, status=Cart.Status.OPEN)
    list(open_carts.select_for_update())
    # The shift's row only: its register's too (as select_related would lock it) deadlocks with cart_recall, which
    # locks the register's row, then the open basket.
    shift = Shift.objects.select_for_update(of=("self",)).select_related("register").get(pk=shift.pk)
    if shift.closed_at is not None:
        raise CheckoutError(_("This shift is already closed."), field="shift")
    if counted_cash < 0:
        raise CheckoutError(_("Counted cash cannot be negative."), field="counted_cash")
    if counted_cash > LARGEST_COUNTED_CASH:
        raise CheckoutError(
            _("Counted cash cannot be more than ¥%(limit)s: check the amount.")
            % {"limit": f"{LARGEST_COUNTED_CASH:,}"},
            field="counted_cash",
        )
    if CartLine.objects.filter(cart__in=open_carts).exists():
        raise CheckoutError(
            _("A sale is in progress on this register: pay it or cancel it before closing the shift."), field="cart"
        )
    open_carts.delete()
    shift.expected_cash = shift_report(shift).expected_cash
    shift.counted_cash = money(counted_cash)
    shift.closed_at = timezone.now()
    shift.closed_by = user
    shift.save(update_fields=["expected_cash", "counted_cash", "closed_at", "closed_by"])
    return shift


# The till's cart ------------------------------------------------------------------------


def cart_start(*, register: Register, user) -> Cart:
    """Start the register's open cart, or return the one another tab started a moment ago (the partial unique
    index settles the race). NoOpenShift if the register has no open shift: a till left open after its shift closed
    takes no more scans."""
    if not Shift.objects.filter(register=register, closed_at__isnull=True).exists():
        raise NoOpenShift(register)
    try:
        with transaction.atomic():
            cart = Cart.objects.create(register=register, cashier=user)
    except IntegrityError:
        cart = Cart.objects.get(register=register, status=Cart.Status.OPEN)
    cart.register = register
    return cart


def _check_stock(cart: Cart, product, wanted: Decimal) -> None:
    """Refuse a line change that would sell more than is on hand (unless negative sales are allowed)."""
    if settings.STOCK_ALLOW_NEGATIVE_SALES:
        return
    location = cart.register.location
    available = stock_available([product.pk], location).get(product.pk)
    on_hand = available.on_hand if available else ZERO
    if wanted > on_hand:
        raise InsufficientStock(product=product, location=location, available=on_hand, requested=wanted)


def _in_cart(cart: Cart, product_id: int, *, excluding: int | None = None) -> Decimal:
    lines = CartLine.objects.filter(cart=cart, product_id=product_id)
    if excluding is not None:
        lines = lines.exclude(pk=excluding)
    return sum(lines.values_list("quantity", flat=True), ZERO)


# The product's line gets the quantity, or a new line is inserted, in one statement (one round trip and one commit):
# the common scan is then the add and the basket read. A scale label is always a line of its own.
_CART_ADD_SQL = """
WITH same AS (
    UPDATE {table} SET quantity = quantity + %(quantity)s
    WHERE cart_id = %(cart)s AND product_id = %(product)s AND amount IS NULL
    RETURNING id
), added AS (
    INSERT INTO {table} (cart_id, product_id, code, quantity, amount)
    SELECT %(cart)s, %(product)s, %(code)s, %(quantity)s, NULL WHERE NOT EXISTS (SELECT FROM same)
    RETURNING id
)
SELECT id FROM same UNION ALL SELECT id FROM added
"""


def _cart_add(cart: Cart, scan: Scan) -> int:
    """Add the scan to the cart; the id of the line it went to."""
    if scan.amount is None and connection.vendor == "postgresql":
        params = {"quantity": scan.quantity, "cart": cart.pk, "product": scan.product.pk, "code": scan.code}
        with connection.cursor() as cursor:
            cursor.execute(_CART_ADD_SQL.format(table=CartLine._meta.db_table), params)
            return cursor.fetchone()[0]
    if scan.amount is None:  # SQLite (the embedded demo): no writes inside WITH
        same = CartLine.objects.filter(cart=cart, product=scan.product, amount__isnull=True)
        if same.update(quantity=F("quantity") + scan.quantity):
            return same.values_list("pk", flat=True).first()
    return CartLine.objects.create(
        cart=cart, product=scan.product, code=scan.code, quantity=scan.quantity, amount=scan.amount
    ).pk


def cart_scan(*, cart: Cart, scan: Scan) -> tuple[Basket, int]:
    """Add a scanned item and return the basket after it with the id of the line that changed. The same product
    again adds to its line; a scale label with its own amount is a line of its own.

    Raises InsufficientStock if the cart would then hold more than is on hand; the change is taken back first, so
    nothing changes. Written optimistically without a transaction (add, read the basket with on-hand, take back if
    over) because that is two round trips for the common case; the sale itself re-checks stock under lock.
    CheckoutError for a quantity the product cannot be sold in (a weight label on goods sold by the piece); CartGone
    if the cart was dropped since the till read it (the shift closed, or another window ended the sale).
    """
    check_quantity(scan.product, scan.quantity, field="code")
    try:
        line_id = _cart_add(cart, scan)
    except IntegrityError:
        # The cart went after the till read it (the line's foreign key is checked as the add commits): asked only
        # when the add failed, so a scan pays nothing for it.
        if Cart.objects.filter(pk=cart.pk).exists():
            raise
        closed = not Shift.objects.filter(register_id=cart.register_id, closed_at__isnull=True).exists()
        raise CartGone(cart.register, shift_closed=closed) from None
    after = basket(cart)
    line = next(ln for ln in after.lines if ln.pk == line_id)
    if line.on_hand_after < 0 and not settings.STOCK_ALLOW_NEGATIVE_SALES:
        if line.priced.quantity == scan.quantity:
            CartLine.objects.filter(pk=line_id).delete()
        else:
            CartLine.objects.filter(pk=line_id).update(quantity=F("quantity") - scan.quantity)
        in_cart = sum((ln.priced.quantity for ln in after.lines if ln.priced.product.pk == scan.product.pk), ZERO)
        raise InsufficientStock(
            product=scan.product,
            location=cart.register.location,
            available=line.on_hand_after + in_cart,
            requested=in_cart,
        )
    return after, line_id


def _cart_line(cart: Cart, line_id: int) -> CartLine:
    line = CartLine.objects.select_related("product").filter(cart=cart, pk=line_id).first()
    if line is None:
        raise CheckoutError(_("That line is no longer in this sale."), field="line")
    return line


@transaction.atomic
def cart_set_quantity(*, cart: Cart, line_id: int, quantity: Decimal) -> CartLine:
    """Change a line's quantity (not for scale labels, whose price is fixed by the label, nor for a manager's
    price, which was approved for the quantity on the line)."""
    line = _cart_line(cart, line_id)
    if line.unit_price is not None:
        raise CheckoutError(
            _("A manager set the price of %(product)s for this quantity: void the line and scan it again.")
            % {"product": line.product.name},
            field="quantity",
        )
    if line.amount is not None:
        raise CheckoutError(
            _("%(product)s was priced by its scale label: void it and scan the label again.")
            % {"product": line.product.name},
            field="quantity",
        )
    check_quantity(line.product, quantity, field="quantity")
    check_chargeable(line.product, quantity, field="quantity")
    _check_stock(cart, line.product, _in_cart(cart, line.product_id, excluding=line.pk) + quantity)
    line.quantity = quantity
    line.save(update_fields=["quantity"])
    return line


def cart_void_line(*, cart: Cart, line_id: int) -> None:
    """Remove a line from the cart."""
    _cart_line(cart, line_id).delete()


def cart_hold(*, cart: Cart) -> None:
    """Park the cart; the register starts a new one at the next scan."""
    if not CartLine.objects.filter(cart=cart).exists():
        raise CheckoutError(_("There is nothing to hold."), field="cart")
    Cart.objects.filter(pk=cart.pk).update(status=Cart.Status.HELD, held_at=timezone.now())


@transaction.atomic
def cart_recall(*, register: Register, cart_id: int, user) -> Cart:
    """Bring a held cart back; the cart open now is held in its place (or dropped if empty). The register's row is
    locked first: two tabs recalling at once take turns, and the second holds the cart the first recalled."""
    Register.objects.select_for_update(no_key=True).filter(pk=register.pk).first()
    held = Cart.objects.select_for_update().filter(pk=cart_id, register=register, status=Cart.Status.HELD).first()
    if held is None:
        raise CheckoutError(_("That held sale is no longer waiting."), field="cart")
    current = Cart.objects.filter(register=register, status=Cart.Status.OPEN).first()
    if current is not None:
        if CartLine.objects.filter(cart=current).exists():
            Cart.objects.filter(pk=current.pk).update(status=Cart.Status.HELD, held_at=timezone.now())
        else:
            current.delete()
    Cart.objects.filter(pk=held.pk).update(status=Cart.Status.OPEN, held_at=None, cashier=user)
    return held


def cart_cancel(*, cart: Cart) -> None:
    """Drop the cart and its lines; nothing was sold."""
    cart.delete()


@transaction.atomic
def cart_checkout(
    *,
    cart: Cart,
    payments: Sequence[PaymentInput],
    user,
    approved_by=None,
    expected_total: Decimal | None = None,
) -> SaleResult:
    """Complete the cart as a sale (its token is the client token) and drop it. Same raises as sale_complete, and
    CheckoutError for cash that would give ¥100 change or more: no customer hands over a ¥100 note (the largest)
    that is not needed, so it is a slip of the keys, or a barcode scanned into the cash field.
    The till passes the total its screen showed as expected_total: the basket is priced again under the cart's lock,
    and a new total (a promotion ended, a price changed while the basket was open) raises PriceChanged.
    The cart's row is locked first, as a manager's approval on it locks it before its lines."""
    Cart.objects.select_for_update().filter(pk=cart.pk).first()
    result = sale_complete(
        client_token=cart.token,
        register=cart.register,
        lines=cart_inputs(cart_lines(cart)),
        payments=payments,
        user=user,
        approved_by=approved_by,
        cart_approvals=True,
        change_limit=LARGEST_NOTE,
        expected_total=expected_total,
    )
    cart.delete()
    return result


def api_token_for(user) -> ApiToken:
    """The user's API token, created on first use."""
    token, _created = ApiToken.objects.get_or_create(user=user)
    return token
