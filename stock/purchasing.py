"""Purchase orders: create, send, cancel, delete (drafts only), and what is still on order.

A purchase order changes no stock; receiving it does (stock.receiving).
Status: draft -> sent -> partially received -> received, or cancelled (the rest of a partly received order
too, when the supplier will not deliver it).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Product, Supplier
from stock.models import Location, PurchaseOrder, PurchaseOrderLine, ReplenishmentSuggestion
from stock.selectors import on_hand_subquery

ZERO = Decimal("0")


@dataclass(frozen=True)
class OrderLine:
    product: Product
    quantity: Decimal
    unit_cost: Decimal | None = None  # None: the product's current purchase price


def order_lines_check(supplier: Supplier, lines: Sequence[OrderLine]) -> None:
    """ValidationError naming the first line that cannot be ordered from `supplier`: a quantity that is not one
    (Product.quantity_problem), a negative cost, a product twice, delisted, or bought from another supplier."""
    if not lines:
        raise ValidationError(_("A purchase order needs at least one line."))
    seen = set()
    for number, line in enumerate(lines, start=1):
        where = {"n": number, "product": line.product.name}
        if line.quantity is None:
            problem = _("Quantity must be more than zero.")
        else:
            problem = line.product.quantity_problem(Decimal(line.quantity))
        if problem:
            raise ValidationError(_("Line %(n)d (%(product)s): %(problem)s") % {**where, "problem": problem})
        if not line.product.active:
            raise ValidationError(_("Line %(n)d (%(product)s): the product is delisted.") % where)
        if line.unit_cost is not None and Decimal(line.unit_cost) < 0:
            raise ValidationError(_("Line %(n)d (%(product)s): the unit cost cannot be negative.") % where)
        if line.product.pk in seen:
            raise ValidationError(_("Line %(n)d (%(product)s): the product is already on this order.") % where)
        if line.product.supplier_id not in (None, supplier.pk):
            raise ValidationError(
                _("Line %(n)d (%(product)s): the product is bought from %(other)s, not %(supplier)s.")
                % {**where, "other": line.product.supplier, "supplier": supplier}
            )
        seen.add(line.product.pk)


@transaction.atomic
def purchase_order_create(
    *,
    supplier: Supplier,
    lines: Sequence[OrderLine],
    location: Location | None = None,
    expected_date: date | None = None,
    note: str = "",
    user=None,
) -> PurchaseOrder:
    """Create a draft purchase order with its lines; raises ValidationError naming the bad line, writing nothing."""
    order_lines_check(supplier, lines)
    if expected_date is None:
        expected_date = timezone.localdate() + timedelta(days=supplier.lead_time_days)
    order = PurchaseOrder.objects.create(
        supplier=supplier,
        location=location or Location.default(),
        expected_date=expected_date,
        note=note,
        created_by=user,
    )
    PurchaseOrderLine.objects.bulk_create(
        PurchaseOrderLine(
            order=order,
            product=line.product,
            quantity=Decimal(line.quantity),
            unit_cost=line.product.purchase_price if line.unit_cost is None else Decimal(line.unit_cost),
        )
        for line in lines
    )
    return order


def _locked(order: PurchaseOrder) -> PurchaseOrder:
    return PurchaseOrder.objects.select_for_update().get(pk=order.pk)


@transaction.atomic
def purchase_order_send(*, order: PurchaseOrder, user=None) -> PurchaseOrder:
    """Mark a draft as sent to the supplier (it can then be received). Locks the order row."""
    order = _locked(order)
    if order.status != PurchaseOrder.Status.DRAFT:
        raise ValidationError(
            _("%(order)s is %(status)s; only a draft can be sent.")
            % {"order": order, "status": order.get_status_display()}
        )
    if not order.lines.filter(quantity__gt=0).exists():
        raise ValidationError(_("%(order)s has no lines to order.") % {"order": order})
    order.status = PurchaseOrder.Status.SENT
    order.sent_at = timezone.now()
    order.save(update_fields=["status", "sent_at"])
    return order


@transaction.atomic
def purchase_order_cancel(*, order: PurchaseOrder, user=None) -> PurchaseOrder:
    """Cancel an order, or the rest of a partly received one that the supplier will not deliver: it is then no
    longer on order or receivable, and what was received stays booked by its receipts. Locks the order row."""
    order = _locked(order)
    if order.status not in PurchaseOrder.OPEN:
        raise ValidationError(
            _("%(order)s is %(status)s and cannot be cancelled.")
            % {"order": order, "status": order.get_status_display()}
        )
    order.status = PurchaseOrder.Status.CANCELLED
    order.save(update_fields=["status"])
    _suggestions_raise_again(order)
    return order


def order_delete_check(order: PurchaseOrder) -> None:
    """ValidationError unless the order is a draft: once sent it is the record of what was ordered from the
    supplier (and of what came, or did not), so an open one is cancelled instead and a closed one stays."""
    if order.status == PurchaseOrder.Status.DRAFT:
        return
    where = {"order": order, "status": order.get_status_display()}
    if order.status in PurchaseOrder.OPEN:
        raise ValidationError(
            _(
                "%(order)s is %(status)s: only a draft can be deleted. Cancel it instead, which keeps the record of "
                "what was ordered."
            )
            % where
        )
    raise ValidationError(
        _("%(order)s is %(status)s: only a draft can be deleted, and this order stays as a record.") % where
    )


@transaction.atomic
def purchase_order_delete(*, order: PurchaseOrder, user=None) -> None:
    """Delete a draft order (order_delete_check raises ValidationError for any other). Locks the order row, so an
    order sent meanwhile is refused; what the draft was to bring from replenishment suggestions is suggested again,
    as when it is cancelled."""
    order = _locked(order)
    order_delete_check(order)
    _suggestions_raise_again(order)
    order.delete()


def _suggestions_raise_again(order: PurchaseOrder) -> None:
    """Open a new suggestion for each product the order took from replenishment and will not bring, when it is
    still below safety stock at the order's location. The old suggestion stays ordered, as a record; and only an
    outgoing move raises a new one, so a product already at 0 would never be suggested again."""
    outstanding = order.lines.filter(quantity__gt=F("received_quantity")).values("product")
    products = (
        Product.objects.filter(active=True, safety_stock__gt=0, pk__in=order.suggestions.values("product"))
        .filter(pk__in=outstanding)
        .annotate(on_hand=on_hand_subquery(order.location_id))
        .filter(on_hand__lt=F("safety_stock"))
    )
    # The partial unique index keeps it to one open suggestion per product and location.
    ReplenishmentSuggestion.objects.bulk_create(
        [
            ReplenishmentSuggestion(product=p, location_id=order.location_id, on_hand_when_raised=p.on_hand)
            for p in products
        ],
        ignore_conflicts=True,
    )


def on_order_quantities(product_ids: Iterable[int]) -> dict[tuple[int, int], Decimal]:
    """Quantity still to come per product and delivery location: ordered minus received on draft, sent and partly
    received orders."""
    rows = (
        PurchaseOrderLine.objects.filter(
            product_id__in=list(product_ids), order__status__in=PurchaseOrder.OPEN, quantity__gt=F("received_quantity")
        )
        .values("product_id", "order__location_id")
        .annotate(total=Sum(F("quantity") - F("received_quantity")))
        .order_by()
    )
    return {(row["product_id"], row["order__location_id"]): row["total"] for row in rows}
