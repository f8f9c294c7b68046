"""The stock service: the only writer of StockLevel.on_hand.

Every change writes the level and one StockMovement (signed quantity, kind,
document, user, balance after) in the same transaction, so that for every
product, location and lot on_hand equals the sum of its movements.

Locking discipline: all level rows a document touches are locked in one
SELECT ... FOR UPDATE ordered by primary key, so concurrent tills cannot
deadlock; they are then changed in one UPDATE with F() so no update is lost.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Case, F, Sum, Value, When
from django.utils.translation import gettext as _

from catalog.models import Product
from stock.models import Location, Lot, MovementKind, ReplenishmentSuggestion, StockLevel, StockMovement

ZERO = Decimal("0")


class InsufficientStock(Exception):
    """A move would take on-hand below zero where that is refused."""

    def __init__(self, *, product: Product, location: Location, available: Decimal, requested: Decimal, lot=None):
        self.product, self.location, self.available, self.requested, self.lot = (
            product,
            location,
            available,
            requested,
            lot,
        )
        super().__init__(
            _("Not enough stock of %(product)s at %(location)s: %(available)s left, %(requested)s requested.")
            % {
                "product": product.name,
                "location": location.name,
                "available": available.normalize(),
                "requested": requested.normalize(),
            }
        )


@dataclass(frozen=True)
class Move:
    product: Product
    location: Location
    quantity: Decimal
    lot: Lot | None = None


def _key(product_id, location_id, lot_id):
    return (product_id, location_id, lot_id)


def _negative_allowed(kind: str, allow_negative: bool | None) -> bool:
    if allow_negative is not None:
        return allow_negative
    return kind == MovementKind.SALE and settings.STOCK_ALLOW_NEGATIVE_SALES


def _lock_levels(keys: Iterable[tuple]) -> dict[tuple, StockLevel]:
    """Create missing level rows, then lock all of them in primary-key order."""
    keys = set(keys)
    StockLevel.objects.bulk_create(
        [StockLevel(product_id=p, location_id=loc, lot_id=lot) for p, loc, lot in keys],
        ignore_conflicts=True,
    )
    candidates = StockLevel.objects.filter(
        product_id__in={k[0] for k in keys}, location_id__in={k[1] for k in keys}
    ).values_list("pk", "product_id", "location_id", "lot_id")
    pks = [pk for pk, *key in candidates if tuple(key) in keys]
    levels = StockLevel.objects.select_for_update().filter(pk__in=pks).order_by("pk")
    return {_key(lv.product_id, lv.location_id, lv.lot_id): lv for lv in levels}


@transaction.atomic
def stock_move_batch(
    *,
    moves: Sequence[Move],
    kind: str,
    reference: str = "",
    document=None,
    user=None,
    allow_negative: bool | None = None,
) -> list[StockMovement]:
    """Apply many moves for one document in one transaction.

    Locks every level row involved in primary-key order, refuses the whole batch
    with InsufficientStock if any level would go below zero (unless allowed: a
    sale under STOCK_ALLOW_NEGATIVE_SALES, or allow_negative=True), updates all
    levels in one statement with F(), writes one ledger row per move, and opens
    replenishment suggestions where on-hand fell below safety stock.
    """
    if kind not in MovementKind.values:
        raise ValueError(f"Unknown movement kind {kind!r}")
    moves = [m for m in moves if m.quantity != 0]
    if not moves:
        return []
    negative_ok = _negative_allowed(kind, allow_negative)
    levels = _lock_levels(_key(m.product.pk, m.location.pk, m.lot.pk if m.lot else None) for m in moves)

    deltas: dict[int, Decimal] = defaultdict(Decimal)
    movements = []
    balances = {lv.pk: lv.on_hand for lv in levels.values()}
    for move in moves:
        level = levels[_key(move.product.pk, move.location.pk, move.lot.pk if move.lot else None)]
        balance = balances[level.pk] + move.quantity
        if balance < 0 and move.quantity < 0 and not negative_ok:
            raise InsufficientStock(
                product=move.product,
                location=move.location,
                available=balances[level.pk],
                requested=-move.quantity,
                lot=move.lot,
            )
        balances[level.pk] = balance
        deltas[level.pk] += move.quantity
        movements.append(
            StockMovement(
                product=move.product,
                location=move.location,
                lot=move.lot,
                quantity=move.quantity,
                kind=kind,
                reference=reference,
                document_type=ContentType.objects.get_for_model(document) if document is not None else None,
                document_id=document.pk if document is not None else None,
                user=user,
                balance_after=balance,
            )
        )

    StockLevel.objects.filter(pk__in=deltas).update(
        on_hand=F("on_hand") + Case(*(When(pk=pk, then=Value(delta)) for pk, delta in deltas.items()))
    )
    created = StockMovement.objects.bulk_create(movements)
    _raise_suggestions({(m.product, m.location) for m in moves if m.quantity < 0})
    return created


def stock_move(
    *,
    product: Product,
    location: Location,
    quantity: Decimal,
    kind: str,
    reference: str = "",
    document=None,
    user=None,
    lot: Lot | None = None,
    allow_negative: bool | None = None,
) -> StockMovement:
    """One change of on-hand: the single-move form of stock_move_batch (same locks, same checks)."""
    movements = stock_move_batch(
        moves=[Move(product=product, location=location, quantity=Decimal(quantity), lot=lot)],
        kind=kind,
        reference=reference,
        document=document,
        user=user,
        allow_negative=allow_negative,
    )
    if not movements:
        raise ValueError("A stock move needs a non-zero quantity.")
    return movements[0]


def _raise_suggestions(pairs: set[tuple[Product, Location]]) -> None:
    """Open a suggestion for each (product, location) now below safety stock, at most one open each."""
    watched = [(p, loc) for p, loc in pairs if p.safety_stock > 0]
    if not watched:
        return
    totals = {
        (row["product_id"], row["location_id"]): row["total"]
        for row in StockLevel.objects.filter(
            product_id__in={p.pk for p, _ in watched}, location_id__in={loc.pk for _, loc in watched}
        )
        .values("product_id", "location_id")
        .annotate(total=Sum("on_hand"))
    }
    below = [
        ReplenishmentSuggestion(product=p, location=loc, on_hand_when_raised=totals.get((p.pk, loc.pk), ZERO))
        for p, loc in watched
        if totals.get((p.pk, loc.pk), ZERO) < p.safety_stock
    ]
    # The partial unique index keeps it to one open suggestion per product and location.
    ReplenishmentSuggestion.objects.bulk_create(below, ignore_conflicts=True)
