"""Transfers between locations and write-offs: stock documents with lines, posted at once."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Product
from stock.models import Location, Lot, MovementKind, StockLevel, Transfer, TransferLine, WriteOff, WriteOffLine
from stock.services import Move, stock_move_batch


class AlreadyPosted(Exception):
    """The form's token was posted before (a double submit): the document it made, nothing moved again."""

    def __init__(self, document: Model):
        self.document = document
        super().__init__(_("%(doc)s is already posted; nothing more was moved.") % {"doc": document})


def document_create(model: type[Model], token: uuid.UUID | None, **fields) -> Model:
    """Insert the document, once per token. A repeated token raises AlreadyPosted with the first document,
    also when the first request is still in flight: the insert waits on the token's unique index until
    that one commits (and succeeds if it rolled back)."""
    if token is not None and (first := model.objects.filter(token=token).first()) is not None:
        raise AlreadyPosted(first)
    try:
        with transaction.atomic():
            return model.objects.create(token=token, **fields)
    except IntegrityError:
        if token is None or (first := model.objects.filter(token=token).first()) is None:
            raise
        raise AlreadyPosted(first) from None


@dataclass(frozen=True)
class DocumentLine:
    product: Product
    quantity: Decimal
    lot: Lot | None = None  # None: lot-tracked goods come from the lot that expires first


def _checked_lines(lines: Sequence[DocumentLine]) -> list[DocumentLine]:
    """The lines, checked, with those of the same product (and lot) added into the first: a product entered twice
    is checked against its stock once, for all that was asked (5 left, 6 requested; not 2 left, 3 requested)."""
    if not lines:
        raise ValidationError(_("Add at least one line."))
    for number, line in enumerate(lines, start=1):
        if line.quantity is None or Decimal(line.quantity) <= 0:
            raise ValidationError(
                _("Line %(n)d (%(product)s): the quantity must be more than zero.")
                % {"n": number, "product": line.product.name}
            )
        if line.lot is not None and line.lot.product_id != line.product.pk:
            raise ValidationError(
                _("Line %(n)d: lot %(lot)s is not a lot of %(product)s.")
                % {"n": number, "lot": line.lot.code, "product": line.product.name}
            )
    merged: dict[tuple, DocumentLine] = {}
    for line in lines:
        key = (line.product.pk, line.lot.pk if line.lot else None)
        first = merged.get(key)
        quantity = Decimal(line.quantity) + (first.quantity if first else 0)
        merged[key] = DocumentLine(line.product, quantity, line.lot)
    return list(merged.values())


@transaction.atomic
def transfer_create(
    *,
    source: Location,
    destination: Location,
    lines: Sequence[DocumentLine],
    note: str = "",
    user=None,
    token: uuid.UUID | None = None,
) -> Transfer:
    """Move goods from one location to another as one document in one transaction.

    Locks the products' level rows at both locations in one SELECT ... FOR UPDATE ordered by primary key
    first, so that opposite transfers (floor to back and back to floor at once) wait for each other instead
    of deadlocking. The outgoing movements come first (lot-tracked goods from the lot that expires first,
    expired lots refused); the incoming movements then carry exactly the lots that went out (they depend on
    the outgoing ones, hence two batches). Lines of the same product (and lot) are one line. Raises ValidationError for bad lines, InsufficientStock /
    ExpiredStock if the source lacks the goods, AlreadyPosted for a token used before; nothing is written then.
    """
    if source.pk == destination.pk:
        raise ValidationError(_("A transfer needs two different locations."))
    lines = _checked_lines(lines)
    transfer = document_create(Transfer, token, source=source, destination=destination, note=note, created_by=user)
    TransferLine.objects.bulk_create(
        TransferLine(transfer=transfer, product=line.product, quantity=line.quantity) for line in lines
    )
    # Every existing row of the products at both places, lots included: the two batches below lock only their
    # own side, and two opposite transfers would each hold one side while waiting for the other.
    list(
        StockLevel.objects.select_for_update()
        .filter(product__in={line.product.pk for line in lines}, location__in=[source.pk, destination.pk])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    reference = f"{transfer} {source.code}→{destination.code}"
    outgoing = stock_move_batch(
        moves=[Move(line.product, source, -Decimal(line.quantity), line.lot) for line in lines],
        kind=MovementKind.TRANSFER,
        reference=reference,
        document=transfer,
        user=user,
        allow_negative=False,
    )
    stock_move_batch(
        moves=[Move(row.product, destination, -row.quantity, row.lot) for row in outgoing],
        kind=MovementKind.TRANSFER,
        reference=reference,
        document=transfer,
        user=user,
    )
    return transfer


@transaction.atomic
def write_off_create(
    *,
    location: Location,
    reason: str,
    lines: Sequence[DocumentLine],
    note: str = "",
    user=None,
    token: uuid.UUID | None = None,
) -> WriteOff:
    """Take damaged, expired or lost goods off stock with a reason code, valued at their purchase price.

    Expired lots may be written off (that is what the expired reason is for). Lines of the same product (and lot)
    are taken together. Raises ValidationError
    for an unknown reason or bad line, InsufficientStock for more than is there, AlreadyPosted for a
    token used before; nothing is written then.
    """
    if reason not in WriteOff.Reason.values:
        raise ValidationError(
            _("Unknown write-off reason %(reason)s; use one of: %(reasons)s.")
            % {"reason": reason, "reasons": ", ".join(WriteOff.Reason.values)}
        )
    lines = _checked_lines(lines)
    write_off = document_create(WriteOff, token, location=location, reason=reason, note=note, created_by=user)
    movements = stock_move_batch(
        moves=[Move(line.product, location, -Decimal(line.quantity), line.lot) for line in lines],
        kind=MovementKind.WRITE_OFF,
        reference=f"{write_off} {write_off.get_reason_display()}"[:60],
        document=write_off,
        user=user,
        allow_negative=False,
        allow_expired=True,
    )
    # One line per ledger row, so a FEFO split over lots shows which lots went.
    WriteOffLine.objects.bulk_create(
        WriteOffLine(
            write_off=write_off,
            product=row.product,
            lot=row.lot,
            quantity=-row.quantity,
            unit_cost=row.product.purchase_price,
        )
        for row in movements
    )
    return write_off


def expired_levels(location: Location):
    """Lot levels at a location whose lot has expired and still has stock."""
    return (
        StockLevel.objects.filter(location=location, on_hand__gt=0, lot__expiry_date__lt=timezone.localdate())
        .select_related("product", "lot")
        .order_by("lot__expiry_date", "product__name")
    )


@transaction.atomic
def write_off_expired(*, location: Location, user=None, note: str = "") -> WriteOff:
    """Write off everything left of expired lots at a location as one document (reason: expired)."""
    lines = [DocumentLine(level.product, level.on_hand, level.lot) for level in expired_levels(location)]
    if not lines:
        raise ValidationError(_("No expired lots with stock at %(location)s.") % {"location": location})
    return write_off_create(location=location, reason=WriteOff.Reason.EXPIRED, lines=lines, note=note, user=user)
