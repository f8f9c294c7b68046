"""Receiving goods: against a purchase order or as a direct delivery with a reason.

A receipt starts as a draft that collects scans (one unit per scan, a pack
quantity for a case barcode, lot, expiry and quantity from a GS1-128 case
label) and typed corrections. Posting it is one transaction: the stock moves
through stock.services, the order lines count what arrived, the order status
follows, and each product's purchase price becomes the moving average cost.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import gs1
from catalog.models import Product, Supplier
from catalog.selectors import case_label_lookup, product_lookup
from catalog.services import product_update
from stock.models import (
    Location,
    Lot,
    MovementKind,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    StockLevel,
)
from stock.services import Move, stock_move_batch
from stock.transfers import AlreadyPosted, document_create

ZERO = Decimal("0")
COST_PLACES = Decimal("0.0001")


def receipt_start(
    *,
    order: PurchaseOrder | None = None,
    location: Location | None = None,
    supplier: Supplier | None = None,
    reason: str = "",
    user=None,
    token: uuid.UUID | None = None,
) -> Receipt:
    """Open a draft receipt: for a sent or partly received order (resuming its open draft if there is one),
    or a direct delivery to a location, which needs a reason. A direct delivery's form token (forms.PostedOnceForm)
    starts one draft however often the form is sent: the same token gives back that draft. Raises ValidationError,
    writing nothing."""
    if order is not None:
        return _order_receipt_start(order, user)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("A delivery without a purchase order needs a reason."))
    if location is None:
        raise ValidationError(_("Choose the location the delivery goes to."))
    try:
        return document_create(Receipt, token, location=location, supplier=supplier, reason=reason, created_by=user)
    except AlreadyPosted as exc:
        return exc.document


@transaction.atomic
def _order_receipt_start(order: PurchaseOrder, user) -> Receipt:
    order = PurchaseOrder.objects.select_for_update().get(pk=order.pk)
    _check_receivable(order)
    draft = order.receipts.filter(status=Receipt.Status.DRAFT).first()
    if draft is not None:
        return draft
    return Receipt.objects.create(order=order, supplier=order.supplier, location=order.location, created_by=user)


def _check_receivable(order: PurchaseOrder) -> None:
    if order.status in PurchaseOrder.RECEIVABLE:
        return
    if order.status == PurchaseOrder.Status.DRAFT:
        raise ValidationError(_("%(order)s is still a draft: send it before receiving.") % {"order": order})
    raise ValidationError(
        _("%(order)s is %(status)s and cannot be received.") % {"order": order, "status": order.get_status_display()}
    )


def _locked_draft(receipt: Receipt) -> Receipt:
    locked = Receipt.objects.select_for_update().filter(pk=receipt.pk).first()
    if locked is None:
        raise ValidationError(_("%(receipt)s was discarded.") % {"receipt": receipt})
    if locked.status != Receipt.Status.DRAFT:
        raise ValidationError(_("%(receipt)s is already posted and cannot be changed.") % {"receipt": locked})
    return locked


@transaction.atomic
def receipt_discard(*, receipt: Receipt, user=None) -> None:
    """Throw away a draft receipt with its lines: a delivery started twice, or one for an order cancelled since.
    Locks the receipt row, so a scan or a posting at the same moment comes first or finds it gone. Raises
    ValidationError for a posted receipt (its goods are in stock) or one discarded already."""
    _locked_draft(receipt).delete()  # its lines go with it (CASCADE)


def _check_not_expired(product: Product, lot_code: str, expiry: date | None) -> None:
    # Received, expired goods would be stock the till refuses to sell: refused at the door instead.
    if expiry is not None and expiry < timezone.localdate():
        raise ValidationError(
            _("%(product)s, lot %(lot)s expired on %(expiry)s: expired goods cannot be received.")
            % {"product": product.name, "lot": lot_code or "-", "expiry": expiry}
        )


@dataclass(frozen=True)
class ReceivedScan:
    line: ReceiptLine
    added: Decimal
    on_order: bool


def read_scanned_code(code: str) -> tuple[Product, Decimal, str, date | None]:
    """Product, quantity, lot code and expiry a scanned code stands for: a barcode (one unit, or the
    pack quantity of a case barcode, or the weight on a scale label) or a GS1-128 case label. Raises
    ValidationError saying why not, also when what it stands for is no quantity of the product
    (Product.quantity_problem: a zero-weight label, a weight label of goods sold by the piece)."""
    lot, expiry = "", None
    try:
        if gs1.looks_like_label(code):
            label = gs1.parse(code)
            scan = case_label_lookup(label, include_inactive=True)
            lot, expiry = label.lot, label.expiry
        else:
            scan = product_lookup(code, include_inactive=True)
    except (gs1.InvalidLabel, LookupError, ValueError) as exc:
        # InvalidCode is a ValueError, UnknownCode a LookupError: both carry a message for the clerk.
        raise ValidationError(str(exc)) from None
    if problem := scan.product.quantity_problem(scan.quantity):
        raise ValidationError(_("Code %(code)s: %(problem)s") % {"code": scan.code, "problem": problem})
    return scan.product, scan.quantity, lot, expiry


def _order_cost(receipt: Receipt, product: Product) -> Decimal:
    if receipt.order_id:
        line = receipt.order.lines.filter(product=product).first()
        if line is not None:
            return line.unit_cost
    return product.purchase_price


@transaction.atomic
def receipt_scan(*, receipt: Receipt, code: str, user=None) -> ReceivedScan:
    """Add what one scanned code stands for to a draft receipt. Locks the receipt row, so two clerks
    scanning into the same receipt add up. Raises ValidationError for an unreadable or unknown code, or one
    standing for no quantity of its product (a zero-weight label, a fraction of goods sold by the piece), for
    goods already expired, and for a lot already on the receipt with another expiry."""
    receipt = _locked_draft(receipt)
    product, quantity, lot_code, expiry = read_scanned_code(code)
    _check_not_expired(product, lot_code, expiry)
    if not product.lot_tracked:
        lot_code, expiry = "", None
    line, created = ReceiptLine.objects.get_or_create(
        receipt=receipt,
        product=product,
        lot_code=lot_code,
        defaults={"expiry_date": expiry, "unit_cost": _order_cost(receipt, product), "quantity": quantity},
    )
    if not created:
        if expiry is not None and line.expiry_date not in (None, expiry):
            raise ValidationError(
                _("%(product)s, lot %(lot)s is on this receipt with expiry %(known)s, and this label says %(given)s.")
                % {"product": product.name, "lot": lot_code or "-", "known": line.expiry_date, "given": expiry}
            )
        line.quantity = F("quantity") + quantity
        if expiry is not None:
            line.expiry_date = expiry
        line.save(update_fields=["quantity", "expiry_date"])
        line.refresh_from_db()
    on_order = bool(receipt.order_id) and receipt.order.lines.filter(product=product).exists()
    return ReceivedScan(line=line, added=quantity, on_order=on_order)


@transaction.atomic
def receipt_line_update(
    *, line: ReceiptLine, quantity: Decimal, lot_code: str = "", expiry_date: date | None = None, user=None
) -> ReceiptLine:
    """Correct a line of a draft receipt (typed quantity, lot, expiry). Zero removes the line. Raises
    ValidationError for a quantity the product cannot have or an expiry already past."""
    _locked_draft(line.receipt)
    if quantity is None or quantity < 0:
        raise ValidationError(
            _("%(product)s: the quantity received cannot be negative.") % {"product": line.product.name}
        )
    if quantity == 0:
        line.delete()
        return line
    problem = line.product.quantity_problem(quantity)  # whole for goods sold by the piece, grams at most
    if problem:
        raise ValidationError(problem)
    line.quantity = quantity
    if line.product.lot_tracked:
        line.lot_code, line.expiry_date = (lot_code or "").strip(), expiry_date
        _check_not_expired(line.product, line.lot_code, expiry_date)
    try:
        with transaction.atomic():
            line.save(update_fields=["quantity", "lot_code", "expiry_date"])
    except IntegrityError:
        raise ValidationError(
            _("%(product)s already has a line with lot %(lot)s: change that line instead.")
            % {"product": line.product.name, "lot": line.lot_code or "-"}
        ) from None
    return line


@dataclass
class SheetRow:
    """One product on the receiving page: what was ordered, received before, and in this receipt."""

    product: Product
    ordered: Decimal = ZERO
    received_before: Decimal = ZERO
    lines: list[ReceiptLine] = field(default_factory=list)
    on_order: bool = True
    direct: bool = False  # a delivery without an order has nothing to differ from

    @property
    def this_receipt(self) -> Decimal:
        return sum((line.quantity for line in self.lines), ZERO)

    @property
    def difference(self) -> Decimal:
        """Positive: over-receipt; negative: still missing after this receipt."""
        return self.received_before + self.this_receipt - self.ordered

    @property
    def state(self) -> str:
        if self.direct:
            return "direct"
        if not self.on_order:
            return "not-on-order"
        return "over" if self.difference > 0 else "under" if self.difference < 0 else "complete"


def receipt_sheet(receipt: Receipt) -> list[SheetRow]:
    """Rows for the receiving page: order lines first (in order), then products not on the order."""
    rows: dict[int, SheetRow] = {}
    if receipt.order_id:
        for po_line in receipt.order.lines.select_related("product"):
            rows[po_line.product_id] = SheetRow(
                product=po_line.product, ordered=po_line.quantity, received_before=po_line.received_quantity
            )
    for line in receipt.lines.select_related("product").order_by("id"):
        row = rows.get(line.product_id)
        if row is None:
            row = rows[line.product_id] = SheetRow(product=line.product, on_order=False, direct=not receipt.order_id)
        row.lines.append(line)
    return list(rows.values())


def _lots_for(lines: list[ReceiptLine]) -> dict[int, Lot]:
    """Find or create the lot of each lot-tracked line; a known lot code with another expiry is refused."""
    lots = {}
    for line in lines:
        if not line.product.lot_tracked:
            continue
        where = {"product": line.product.name}
        if not line.lot_code:
            raise ValidationError(_("%(product)s is lot-tracked: enter its lot code.") % where)
        if line.expiry_date is None:
            raise ValidationError(
                _("%(product)s, lot %(lot)s: enter the expiry date.") % {**where, "lot": line.lot_code}
            )
        _check_not_expired(line.product, line.lot_code, line.expiry_date)
        lot, _created = Lot.objects.get_or_create(
            product=line.product, code=line.lot_code, defaults={"expiry_date": line.expiry_date}
        )
        if lot.expiry_date and lot.expiry_date != line.expiry_date:
            raise ValidationError(
                _("%(product)s, lot %(lot)s was received before with expiry %(known)s, not %(given)s.")
                % {**where, "lot": lot.code, "known": lot.expiry_date, "given": line.expiry_date}
            )
        lots[line.pk] = lot
    return lots


def moving_average_cost(
    *, on_hand: Decimal, current_cost: Decimal, received: Decimal, received_cost: Decimal
) -> Decimal:
    """Weighted average of the stock on hand at its current cost and the goods received at theirs.

    Stock below zero (sold before it was received) carries no value, so it does not drag the average.
    """
    on_hand = max(on_hand, ZERO)
    total = on_hand + received
    if total <= 0:
        return current_cost
    return ((on_hand * current_cost + received * received_cost) / total).quantize(COST_PLACES)


def _update_costs(lines: list[ReceiptLine], user) -> None:
    """Each received product's purchase price becomes the moving average cost, computed from its price and on-hand
    read under the product row's lock, so two receipts of one product posted at once are both counted.

    Runs once this receipt's stock has moved in: level rows first, then products (primary-key order). The products
    are locked FOR NO KEY UPDATE, which two receipts take in turn but a sale's check of its rows' product reference
    (at commit, in the basket's order, with its level rows still locked) does not wait for: a FOR UPDATE there
    deadlocked with sales.
    """
    received: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for line in lines:
        received[line.product_id][0] += line.quantity
        received[line.product_id][1] += line.quantity * line.unit_cost
    products = list(Product.objects.select_for_update(no_key=True).filter(pk__in=received).order_by("pk"))
    on_hand = dict(
        StockLevel.objects.filter(product_id__in=received)
        .values("product_id")
        .annotate(total=Sum("on_hand"))
        .values_list("product_id", "total")
        .order_by()
    )
    for product in products:
        quantity, value = received[product.pk]
        cost = moving_average_cost(
            on_hand=on_hand[product.pk] - quantity,  # as it was before this receipt
            current_cost=product.purchase_price,
            received=quantity,
            received_cost=value / quantity,
        )
        if cost != product.purchase_price:
            product_update(product=product, user=user, purchase_price=cost)


def _apply_to_order(order: PurchaseOrder, lines: list[ReceiptLine]) -> None:
    received: dict[int, Decimal] = defaultdict(Decimal)
    costs = {}
    for line in lines:
        received[line.product_id] += line.quantity
        costs[line.product_id] = line.unit_cost
    existing = set(order.lines.values_list("product_id", flat=True))
    on_order = {pid: q for pid, q in received.items() if pid in existing}
    if on_order:
        # One statement for all lines, not one per line: the order row is locked meanwhile.
        order.lines.filter(product_id__in=on_order).update(
            received_quantity=F("received_quantity")
            + Case(*(When(product_id=pid, then=Value(q)) for pid, q in on_order.items()))
        )
    # Delivered but not ordered: kept on the order as lines with nothing ordered, so they show as over.
    PurchaseOrderLine.objects.bulk_create(
        PurchaseOrderLine(order=order, product_id=pid, quantity=ZERO, unit_cost=costs[pid], received_quantity=quantity)
        for pid, quantity in received.items()
        if pid not in existing
    )
    missing = order.lines.filter(received_quantity__lt=F("quantity")).exists()
    order.status = PurchaseOrder.Status.PARTIAL if missing else PurchaseOrder.Status.RECEIVED
    order.save(update_fields=["status"])


@transaction.atomic
def receipt_post(*, receipt: Receipt, user=None) -> Receipt:
    """Post a draft receipt in one transaction.

    Locks the receipt, then its order (refused unless sent or partly received), checks every
    lot-tracked line has a lot and an expiry not yet past, moves the stock in (kind receipt, document
    this receipt), then locks the products and updates each one's purchase price to the moving average
    cost (recorded in its history), adds the quantities to the order lines and sets the order partially
    received or received. Raises ValidationError (already posted, order cancelled, nothing to post,
    missing lot, expired) with nothing written.
    """
    receipt = _locked_draft(receipt)
    order = None
    if receipt.order_id:
        order = PurchaseOrder.objects.select_for_update().get(pk=receipt.order_id)
        _check_receivable(order)
    lines = list(receipt.lines.filter(quantity__gt=0).select_related("product").order_by("product_id", "id"))
    if not lines:
        raise ValidationError(_("%(receipt)s has nothing to post: scan or enter what arrived.") % {"receipt": receipt})
    lots = _lots_for(lines)
    reference = f"{receipt} {order}" if order else f"{receipt} {receipt.reason}"[:60]
    stock_move_batch(
        moves=[Move(line.product, receipt.location, line.quantity, lots.get(line.pk)) for line in lines],
        kind=MovementKind.RECEIPT,
        reference=reference,
        document=receipt,
        user=user,
    )
    _update_costs(lines, user)
    for line in lines:
        if line.pk in lots:
            line.lot = lots[line.pk]
            line.save(update_fields=["lot"])
    if order is not None:
        _apply_to_order(order, lines)
    receipt.status = Receipt.Status.POSTED
    receipt.posted_at = timezone.now()
    receipt.save(update_fields=["status", "posted_at"])
    return receipt
