"""Every checkout total is computed here: the till's running basket, the sale, the receipt and the API.

`price_lines` is the one place where line amounts, tax and the sale total are worked out;
promotions plug in here (a rule turns priced lines into discounted lines before the totals are summed).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils.translation import gettext as _

from catalog.models import Product
from checkout.models import PaymentMethod
from supermarket.money import money, quantity_text, tax_included

ZERO = Decimal("0")


class CheckoutError(ValueError):
    """Bad input for a sale or return; `field` names what is wrong (e.g. "lines[2].quantity")."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


class PromotionSoldOut(CheckoutError):
    """A limited promotion had less left, when the sale was completed, than the sale was priced with."""

    def __init__(self, short: Sequence[tuple[str, Decimal]]):
        names = ", ".join(
            _("%(name)s (%(left)s left)") % {"name": name, "left": quantity_text(max(left, ZERO))}
            for name, left in short
        )
        super().__init__(
            _(
                "A promotion ran out while this sale was being completed: %(names)s. "
                "The prices are updated: check the total and take payment again."
            )
            % {"names": names},
            field="lines",
        )


class PriceChanged(CheckoutError):
    """The sale, priced again at payment, comes to another total than the one the customer was shown: a promotion
    ended or a shelf price changed while the basket was open. `total` is the total now."""

    def __init__(self, *, total: Decimal, shown: Decimal):
        super().__init__(
            _(
                "Prices changed since the basket was shown: new total ¥%(total)s (was ¥%(shown)s). "
                "Check it with the customer, then pay again."
            )
            % {"total": total, "shown": shown},
            field="expected_total",
        )
        self.total = total


@dataclass(frozen=True)
class LineInput:
    """What is being sold: a product, how much, and the amount a scale label or a manager's price fixed (if any)."""

    product: Product
    quantity: Decimal
    amount: Decimal | None = None
    code: str = ""
    unit_price: Decimal | None = None  # a manager's price in place of the shelf price (with `amount` to match)


@dataclass(frozen=True)
class PricedLine:
    product: Product
    code: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    tax: Decimal
    cost: Decimal
    # `amount` is after promotions; `saving` is what they took off (quantity × unit_price, or the label's amount).
    saving: Decimal = ZERO
    promotion: str = ""
    note: str = ""  # why a promotion did not (fully) apply, e.g. its promotional quantity ran out

    @property
    def regular_amount(self) -> Decimal:
        return self.amount + self.saving


@dataclass(frozen=True)
class Totals:
    lines: list[PricedLine]
    item_count: Decimal
    total: Decimal
    tax: Decimal
    saving: Decimal = ZERO
    notes: tuple[str, ...] = ()
    # Promotional units per limited promotion (pk): sale_complete takes them with promotion_claim.
    claims: dict[int, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentInput:
    method: str
    amount: Decimal
    reference: str = ""


@dataclass(frozen=True)
class Tender:
    paid: Decimal
    change: Decimal


def check_quantity(product: Product, value: Decimal, *, field: str) -> Decimal:
    """A positive quantity, whole for products sold by the piece, grams at most for weighed ones."""
    problem = product.quantity_problem(value)
    if problem:
        raise CheckoutError(problem, field=field)
    return value


def shelf_amount(product: Product, quantity: Decimal) -> Decimal:
    """A line at the shelf price, rounded to the fen: each line is rounded on its own."""
    return money(product.selling_price * quantity)


def check_chargeable(product: Product, quantity: Decimal, *, field: str) -> None:
    """A line at the shelf price comes to at least a fen: a kilogram sold a gram a line would otherwise go for
    nothing. (Scale labels carry their own amount, checked where they are read.)"""
    if product.selling_price > 0 and not shelf_amount(product, quantity):
        raise CheckoutError(
            _("%(quantity)s of %(name)s comes to less than ¥0.01: too little to sell on its own.")
            % {"quantity": quantity_text(quantity), "name": product.name},
            field=field,
        )


def price_lines(lines: Iterable[LineInput], *, now: datetime | None = None) -> Totals:
    """Price every line (shelf price × quantity, or the amount on a scale label), take off the promotions in force
    at `now` (checkout.promotions, precedence in docs/PROMOTIONS.md), with tax included in the price."""
    from checkout.promotions import PricingLine, discounts  # promotions raises this module's PromotionSoldOut

    lines = list(lines)
    regular = [line.amount if line.amount is not None else shelf_amount(line.product, line.quantity) for line in lines]
    off = discounts(
        [
            PricingLine(ln.product, ln.quantity, amount, ln.amount is not None)
            for ln, amount in zip(lines, regular, strict=True)
        ],
        now=now,
    )
    priced = []
    for i, line in enumerate(lines):
        product = line.product
        amount = regular[i] - off.saving[i]
        priced.append(
            PricedLine(
                product=product,
                code=line.code,
                quantity=line.quantity,
                unit_price=product.selling_price if line.unit_price is None else line.unit_price,
                amount=amount,
                tax=tax_included(amount, product.tax_rate),
                cost=(product.purchase_price * line.quantity).quantize(Decimal("0.0001")),
                saving=off.saving[i],
                promotion="; ".join(off.names[i]),
                note=off.notes[i],
            )
        )
    # A weighed line is one item however many kilograms it holds.
    item_count = sum((Decimal(1) if p.product.sold_by_weight else p.quantity for p in priced), ZERO)
    return Totals(
        lines=priced,
        item_count=item_count,
        total=sum((p.amount for p in priced), ZERO),
        tax=sum((p.tax for p in priced), ZERO),
        saving=sum(off.saving, ZERO),
        notes=tuple(off.basket_notes),
        claims=off.claims,
    )


def tender(total: Decimal, payments: Sequence[PaymentInput], *, change_limit: Decimal | None = None) -> Tender:
    """Check the payments cover the total; only cash can be over the total, and the excess is change, less than
    change_limit if one is given."""
    for i, payment in enumerate(payments):
        if payment.method not in PaymentMethod.values:
            raise CheckoutError(
                _("Unknown payment method %(method)s; use one of %(choices)s.")
                % {"method": payment.method, "choices": ", ".join(PaymentMethod.values)},
                field=f"payments[{i}].method",
            )
        if payment.amount <= 0 or payment.amount != money(payment.amount):
            raise CheckoutError(
                _("A payment amount must be more than zero, in yuan with at most two decimals."),
                field=f"payments[{i}].amount",
            )
    paid = sum((p.amount for p in payments), ZERO)
    if paid < total:
        raise CheckoutError(
            _("Payments of %(paid)s do not cover the total of %(total)s.") % {"paid": paid, "total": total},
            field="payments",
        )
    cash = sum((p.amount for p in payments if p.method == PaymentMethod.CASH), ZERO)
    change = paid - total
    if change > cash:
        raise CheckoutError(
            _("Only cash can be more than the amount due: non-cash payments exceed the total by %(over)s.")
            % {"over": change - cash},
            field="payments",
        )
    if change_limit is not None and change >= change_limit:
        raise CheckoutError(
            _("Cash of %(cash)s for %(total)s would give %(change)s change: check the amount tendered.")
            % {"cash": cash, "total": total, "change": change},
            field="cash",
        )
    return Tender(paid=paid, change=change)
