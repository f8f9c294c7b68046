"""Till actions that need a manager on the spot: voiding a completed sale, overriding a price and selling
past the stock on hand. Each checks the approver's permission and records the override in the same
transaction as the change (supermarket.overrides); refunds and expired stock are recorded by
checkout.services.sale_return and sale_complete."""

from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from catalog.selectors import Scan
from checkout.models import Cart, CartLine, Register, Return, Sale
from checkout.pricing import CheckoutError, check_quantity, shelf_amount
from checkout.selectors import returned_so_far
from checkout.services import return_sent_before, sale_return
from supermarket.models import OverrideKind
from supermarket.money import money, quantity_text
from supermarket.overrides import override_check, override_record, override_seen

ZERO = Decimal("0")
LINE_AMOUNT_LIMIT = Decimal(10) ** 10  # a line's amount holds 12 digits, 2 of them after the point


def _sent_before(cart: Cart, token) -> bool:
    """Whether this approval form was applied already (a double click, a resent request). The cart's row is locked
    first, so the same form sent twice at once is applied by one request and found by the other."""
    Cart.objects.select_for_update().filter(pk=cart.pk).first()
    return token is not None and override_seen(token)


@transaction.atomic
def sale_void(*, sale: Sale, register: Register, user, approved_by, token=None) -> Return:
    """Take back everything still unreturned on a completed sale and refund it by the methods it was paid with
    (checkout.services.refunds_as_paid: a card gets back what it paid, cash the rest).

    Needs supermarket.approve_void_sale on approved_by (OverrideRefused); CheckoutError if nothing is left.
    Goes through sale_return, so stock, rollups and the refund are those of a full return, and the form's token
    makes a void sent twice answer with its first return.
    """
    override_check(kind=OverrideKind.VOID_SALE, approved_by=approved_by)
    if (first := return_sent_before(token, sale)) is not None:
        return first
    returned = returned_so_far(sale)
    left = {line.pk: line.quantity - returned.get(line.pk, (ZERO, ZERO))[0] for line in sale.lines.all()}
    if not any(left.values()):
        raise CheckoutError(_("Sale %(number)s has already been returned in full.") % {"number": sale.number})
    return sale_return(
        sale=sale,
        quantities=left,
        as_paid=True,
        register=register,
        user=user,
        approved_by=approved_by,
        reference=_("void"),
        override=OverrideKind.VOID_SALE,
        token=token,
    )


@transaction.atomic
def cart_price_override(
    *, cart: Cart, line_id: int, unit_price: Decimal, user, approved_by, token=None
) -> CartLine | None:
    """Charge a cart line at a manager's unit price. The line then keeps its amount like a scale label does (its
    quantity is fixed; void it to change), and the price is the line's unit price on the till and the receipt.
    Refuses prices below zero or with more than 2 decimals. None if the form's token was applied before."""
    if _sent_before(cart, token):
        return None
    line = CartLine.objects.select_for_update().select_related("product").filter(cart=cart, pk=line_id).first()
    if line is None:
        raise CheckoutError(_("That line is no longer in this sale."), field="line")
    if unit_price < 0 or unit_price.as_tuple().exponent < -2:
        raise CheckoutError(_("Enter a price of zero or more with at most 2 decimals."), field="unit_price")
    if money(unit_price * line.quantity) >= LINE_AMOUNT_LIMIT:  # a barcode scanned into the price field, say
        raise CheckoutError(
            _("At %(price)s the line would come to more than %(limit)s: check the price.")
            % {"price": unit_price, "limit": LINE_AMOUNT_LIMIT - 1},
            field="unit_price",
        )
    old = line.amount if line.amount is not None else shelf_amount(line.product, line.quantity)
    line.amount = money(unit_price * line.quantity)
    line.unit_price = unit_price
    line.save(update_fields=["amount", "unit_price"])
    override_record(
        kind=OverrideKind.PRICE,
        requested_by=user,
        approved_by=approved_by,
        register=cart.register.code,
        reference=str(cart.token),
        detail=f"{line.product.name} × {quantity_text(line.quantity)}: {old} → {line.amount}",
        amount=line.amount,
        token=token,
    )
    return line


@transaction.atomic
def cart_add_past_stock(*, cart: Cart, scan: Scan, user, approved_by, token=None) -> CartLine | None:
    """Add a scanned item although the cart would then hold more than is on hand (the count is known to be
    wrong, the goods are in the customer's hands). The approval covers this product in this cart: its sale may take
    that product's on-hand below zero, and no other's (checkout.services.sale_complete). None if the form's token
    was applied before: the item is not added twice."""
    check_quantity(scan.product, scan.quantity, field="quantity")
    if _sent_before(cart, token):
        return None
    override_record(
        kind=OverrideKind.STOCK_LIMIT,
        requested_by=user,
        approved_by=approved_by,
        register=cart.register.code,
        reference=str(cart.token),
        detail=f"{scan.product.name} × {quantity_text(scan.quantity)}",
        product=scan.product,
        token=token,
    )
    same = CartLine.objects.filter(cart=cart, product=scan.product, amount__isnull=True)
    if scan.amount is None and same.update(quantity=F("quantity") + scan.quantity):
        return same.get()
    return CartLine.objects.create(
        cart=cart, product=scan.product, code=scan.code, quantity=scan.quantity, amount=scan.amount
    )
