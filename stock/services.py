"""The stock service: the only writer of StockLevel.on_hand.

Every change writes the level and one StockMovement (signed quantity, kind,
document, user, balance after) in the same transaction, so that for every
product, location and lot on_hand equals the sum of its movements.

Locking discipline: all level rows a document touches are locked in one
SELECT ... FOR UPDATE ordered by primary key, so concurrent tills cannot
deadlock; they are then changed in one UPDATE relative to the stored value
(on_hand = on_hand + delta) so no update is lost.
"""

from collections import defaultdict
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Model, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Product
from stock.cache import on_hand_changed
from stock.models import Location, Lot, MovementKind, ReplenishmentSuggestion, StockLevel, StockMovement
from supermarket.money import quantity, quantity_text
from supermarket.sql import Statement, insert_all, max_params, rows_prepare

ZERO = Decimal("0")
LEDGER_LIMIT = Decimal(10**11)  # numeric(14, 3): the level and ledger columns


class InsufficientStock(Exception):
    """A move would take on-hand below zero where that is refused. `expired` lists the expired lots (with what is
    left of each) that were not taken: the refusal then says the stock left is the unexpired stock."""

    def __init__(
        self,
        *,
        product: Product,
        location: Location,
        available: Decimal,
        requested: Decimal,
        lot=None,
        expired: Sequence[tuple[Lot, Decimal]] = (),
    ):
        self.product, self.location, self.available, self.requested, self.lot = (
            product,
            location,
            available,
            requested,
            lot,
        )
        self.expired = list(expired)
        numbers = {
            "product": product.name,
            "location": location.name,
            "available": quantity_text(available),
            "requested": quantity_text(requested),
        }
        if not self.expired:
            message = (
                _("Not enough stock of %(product)s at %(location)s: %(available)s left, %(requested)s requested.")
                % numbers
            )
        else:
            message = _(
                "Not enough unexpired stock of %(product)s at %(location)s: %(available)s left, %(requested)s "
                "requested; the rest, %(expired)s, has expired (%(lots)s)."
            ) % {
                **numbers,
                "expired": quantity_text(sum((left for _lot, left in self.expired), Decimal(0))),
                "lots": "; ".join(
                    _("lot %(lot)s: %(quantity)s, expired on %(date)s")
                    % {"lot": lot.code, "quantity": quantity_text(left), "date": lot.expiry_date}
                    for lot, left in self.expired
                ),
            }
        super().__init__(message)


class ExpiredStock(InsufficientStock):
    """Enough stock is there only if expired lots are taken: refused unless the operation allows it. Only a sale
    offers a way to (a manager's approval at the till), so only a sale's refusal asks for one."""

    def __init__(self, *, approvable: bool = False, **refusal):
        super().__init__(**refusal)
        self.lots = [lot for lot, _left in self.expired]
        self.approvable = approvable
        if approvable:
            approval = _("A manager must approve selling expired stock.")
            self.args = (f"{self.args[0]} {approval}",)


@dataclass(frozen=True)
class Move:
    """A signed change of one product at one location. A negative move of a lot-tracked product with
    no lot given takes from the lot that expires first (FEFO)."""

    product: Product
    location: Location
    quantity: Decimal
    lot: Lot | None = None
    below_zero: bool = False  # this move may take on-hand below zero, whatever the batch allows

    @property
    def takes_fefo(self) -> bool:
        return self.quantity < 0 and self.lot is None and self.product.lot_tracked


def _key(product_id, location_id, lot_id):
    return (product_id, location_id, lot_id)


def _negative_allowed(kind: str, allow_negative: bool | None) -> bool:
    if allow_negative is not None:
        return allow_negative
    return kind == MovementKind.SALE and settings.STOCK_ALLOW_NEGATIVE_SALES


def _move_key(move: Move) -> tuple:
    return _key(move.product.pk, move.location.pk, move.lot.pk if move.lot else None)


def _lock_levels(moves: Sequence[Move]) -> dict[tuple, StockLevel]:
    """Lock every level row the moves touch in one SELECT ... FOR UPDATE ordered by primary key.

    For a FEFO move that is every lot of the product at the location, plus its no-lot row.
    Rows that do not exist yet are created (ignoring a concurrent creator) and the select runs
    again; the usual case, a sale of stocked products, is a single round trip.
    """
    fefo_pairs = {(m.product.pk, m.location.pk) for m in moves if m.takes_fefo}
    keys = {_move_key(m) for m in moves if not m.takes_fefo} | {(p, loc, None) for p, loc in fefo_pairs}
    exact: dict[tuple, set] = defaultdict(set)
    for p, loc, lot in keys:
        if (p, loc) not in fefo_pairs:
            exact[(loc, lot)].add(p)
    whole: dict[int, set] = defaultdict(set)
    for p, loc in fefo_pairs:
        whole[loc].add(p)
    clauses = [(loc, lot, products) for (loc, lot), products in exact.items()]
    clauses += [(loc, _ANY_LOT, products) for loc, products in whole.items()]
    levels = _select_for_update(clauses)
    missing = keys - levels.keys()
    if missing:
        StockLevel.objects.bulk_create(
            [StockLevel(product_id=p, location_id=loc, lot_id=lot) for p, loc, lot in missing],
            ignore_conflicts=True,
        )
        levels = _select_for_update(clauses)
    return levels


_ANY_LOT = object()
_LEVEL_COLUMNS = "id, product_id, location_id, lot_id, on_hand"


def _select_for_update(clauses: list[tuple[int, object, set[int]]]) -> dict[tuple, StockLevel]:
    """Level rows matching any (location, lot or _ANY_LOT, products) clause, locked in primary-key order.

    Written as SQL because every sale runs it: the ORM's compiling of this query cost four times its round trip.
    Lots are read afterwards, only when a row has one.
    """
    conditions, params = [], []
    for location_id, lot_id, product_ids in clauses:
        in_products = ", ".join(["%s"] * len(product_ids))
        if lot_id is _ANY_LOT:
            conditions.append(f"(location_id = %s AND product_id IN ({in_products}))")
            params += [location_id, *product_ids]
        elif lot_id is None:
            conditions.append(f"(location_id = %s AND lot_id IS NULL AND product_id IN ({in_products}))")
            params += [location_id, *product_ids]
        else:
            conditions.append(f"(location_id = %s AND lot_id = %s AND product_id IN ({in_products}))")
            params += [location_id, lot_id, *product_ids]
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_LEVEL_COLUMNS} FROM {StockLevel._meta.db_table} WHERE {' OR '.join(conditions)} "
            f"ORDER BY id{lock}",
            params,
        )
        rows = cursor.fetchall()
    levels = [
        StockLevel(id=pk, product_id=product_id, location_id=location_id, lot_id=lot_id, on_hand=quantity(on_hand))
        for pk, product_id, location_id, lot_id, on_hand in rows
    ]
    lot_ids = {level.lot_id for level in levels if level.lot_id is not None}
    if lot_ids:
        lots = Lot.objects.in_bulk(lot_ids)
        for level in levels:
            level.lot = lots.get(level.lot_id)
    return {_key(lv.product_id, lv.location_id, lv.lot_id): lv for lv in levels}


def _expiry_order(level: StockLevel) -> tuple:
    expiry = level.lot.expiry_date if level.lot and level.lot.expiry_date else date.max
    return (level.lot is None, expiry, level.pk)


def _allocate_fefo(
    moves: Sequence[Move], levels: dict[tuple, StockLevel], allow_expired: bool, negative_ok: bool, kind: str
) -> list[Move]:
    """Split each FEFO move over the product's lots, earliest expiry first; stock without a lot comes last.

    Expired lots are taken only when allow_expired. A move the lots cannot cover is refused here, counting every
    lot it could take (the floor check would see only the stock without a lot): with ExpiredStock if the expired
    lots left could make up the rest, else with InsufficientStock, naming the expired lots left either way. Where
    on-hand may go below zero, the stock without a lot takes the rest (ExpiredStock still, if expired lots are left:
    the goods taken may be the expired ones).
    """
    today = timezone.localdate()
    remaining = {key: level.on_hand for key, level in levels.items()}
    result = []
    for move in moves:
        if not move.takes_fefo:
            result.append(move)
            continue
        candidates = sorted(
            (lv for key, lv in levels.items() if key[:2] == (move.product.pk, move.location.pk)),
            key=_expiry_order,
        )
        expired = [lv for lv in candidates if lv.lot and lv.lot.expiry_date and lv.lot.expiry_date < today]
        usable = [lv for lv in candidates if allow_expired or lv not in expired]
        wanted = -move.quantity
        for level in usable:
            key = _key(level.product_id, level.location_id, level.lot_id)
            take = min(wanted, max(remaining[key], Decimal(0)))
            if take > 0:
                result.append(Move(move.product, move.location, -take, level.lot, move.below_zero))
                remaining[key] -= take
                wanted -= take
        if wanted > 0:
            expired_left = [] if allow_expired else _lots_left(expired, remaining)
            past_zero = negative_ok or move.below_zero
            refusal = {
                "product": move.product,
                "location": move.location,
                "available": -move.quantity - wanted,
                "requested": -move.quantity,
                "expired": expired_left,
            }
            # Refused when the expired lots could cover the rest, and when some would be taken past them (a sale
            # allowed below zero): either way the goods moved may be the expired ones.
            if expired_left and (sum(left for _lot, left in expired_left) >= wanted or past_zero):
                raise ExpiredStock(**refusal, approvable=kind == MovementKind.SALE)
            if not past_zero:
                raise InsufficientStock(**refusal)
            result.append(Move(move.product, move.location, -wanted, None, move.below_zero))
            remaining[_key(move.product.pk, move.location.pk, None)] -= wanted
    return result


def _lots_left(levels: Sequence[StockLevel], remaining: dict[tuple, Decimal]) -> list[tuple[Lot, Decimal]]:
    """The lots of the levels that still hold stock, with what each holds."""
    left = [(lv.lot, remaining[_key(lv.product_id, lv.location_id, lv.lot_id)]) for lv in levels]
    return [(lot, quantity) for lot, quantity in left if quantity > 0]


def stock_move_batch(
    *,
    moves: Sequence[Move],
    kind: str,
    reference: str = "",
    document=None,
    user=None,
    allow_negative: bool | None = None,
    allow_expired: bool = False,
    along: Sequence[Statement] = (),
    rows: Sequence[Sequence[Model]] = (),
) -> list[StockMovement]:
    """Apply many moves for one document in one transaction.

    Locks every level row involved in primary-key order, takes lot-tracked goods
    from the lot that expires first (expired lots only with allow_expired, else
    ExpiredStock, which asks for a manager's approval only for a sale), refuses
    the whole batch with InsufficientStock if any level would go below zero
    (unless allowed: a sale under STOCK_ALLOW_NEGATIVE_SALES,
    allow_negative=True, or a move's own below_zero), updates all levels in one statement with F(), writes
    one ledger row per move, and opens replenishment suggestions where on-hand
    fell below safety stock. The document's own writes go to the database with the level update and ledger rows,
    in one statement on PostgreSQL, and only once every check has passed: `along`, statements returning nothing (a
    sale's daily rollups), and `rows`, groups of unsaved objects of one model each, inserted as insert_all does (a
    sale, its lines and payments).
    """
    # No savepoint in the caller's transaction (a sale, a receipt): two round trips saved on every sale. Every
    # refusal is raised before anything but empty level rows is written, so the caller's transaction stays usable.
    with nullcontext() if connection.in_atomic_block else transaction.atomic():
        return _move_batch(moves, kind, reference, document, user, allow_negative, allow_expired, along, rows)


def _move_batch(
    moves, kind, reference, document, user, allow_negative, allow_expired, along, rows
) -> list[StockMovement]:
    if kind not in MovementKind.values:
        raise ValueError(f"Unknown movement kind {kind!r}")
    # The document's rows do not depend on the stock: prepared before its rows are locked, they are held the
    # shorter (a hot product's row waits for every sale of it).
    rows = [rows_prepare(group) for group in rows if group]
    moves = [m for m in moves if m.quantity != 0]
    for move in moves:
        # The level and the ledger row would each round a fourth decimal on their own, and drift apart.
        amount = Decimal(move.quantity)  # an int is a whole quantity; a float is refused unless exact to the gram
        if not amount.is_finite() or abs(amount) >= LEDGER_LIMIT or amount != quantity(amount):
            raise ValueError(
                f"{move.quantity} of {move.product}: stock quantities have at most three decimals and 11 digits"
            )
    if not moves:
        insert_all(*rows, before=along)
        return []
    negative_ok = _negative_allowed(kind, allow_negative)
    fefo_pairs = {(m.product.pk, m.location.pk) for m in moves if m.takes_fefo}
    levels = _lock_levels(moves)
    moves = _allocate_fefo(moves, levels, allow_expired, negative_ok, kind)

    deltas: dict[int, Decimal] = defaultdict(Decimal)
    movements = []
    balances = {lv.pk: lv.on_hand for lv in levels.values()}
    for move in moves:
        level = levels[_move_key(move)]
        balance = balances[level.pk] + move.quantity
        if balance < 0 and move.quantity < 0 and not (negative_ok or move.below_zero):
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

    # The levels' update, the ledger rows and the document's own: one statement on PostgreSQL, while the rows are
    # locked.
    insert_all(*rows, movements, before=[*_levels_add(deltas), *along])
    on_hand_changed({m.product.pk for m in moves})
    _raise_suggestions({(m.product, m.location) for m in moves if m.quantity < 0}, levels, balances, fefo_pairs)
    return movements


def _levels_add(deltas: dict[int, Decimal]) -> list[Statement]:
    """UPDATEs adding each delta to its (locked) level row, relative to the stored value so none is lost: one
    statement, more for more rows than the parameter limit allows."""
    table = StockLevel._meta.db_table
    items = list(deltas.items())
    per_statement = max_params() // 2
    statements = []
    for start in range(0, len(items), per_statement):
        chunk = items[start : start + per_statement]
        values = ", ".join(["(%s, CAST(%s AS NUMERIC))"] * len(chunk))
        # VALUES columns are column1, column2 in PostgreSQL and SQLite alike (SQLite takes no column aliases here).
        statements.append(
            (
                f"UPDATE {table} SET on_hand = {table}.on_hand + v.column2 FROM (VALUES {values}) AS v "
                f"WHERE {table}.id = v.column1",
                [x for pk, delta in chunk for x in (pk, delta)],
            )
        )
    return statements


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
    """One change of on-hand: the single-move form of stock_move_batch (same locks, same checks).

    Returns the movement written (the first one, if a FEFO sale was split over several lots).
    """
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


def _raise_suggestions(
    pairs: set[tuple[Product, Location]],
    levels: dict[tuple, StockLevel],
    balances: dict[int, Decimal],
    fefo_pairs: set[tuple[int, int]],
) -> None:
    """Open a suggestion for each (product, location) now below safety stock, at most one open each; none for a
    delisted (inactive) product, which is not ordered again.

    The on-hand after the moves is known from the locked rows when they are every row of the product there
    (a product without lots, or a FEFO move, which locks all its lots); otherwise it is summed afresh.
    """
    watched = [(p, loc) for p, loc in pairs if p.safety_stock > 0 and p.active]
    if not watched:
        return
    totals: dict[tuple, Decimal] = defaultdict(Decimal)
    for (product_id, location_id, _lot), level in levels.items():
        totals[(product_id, location_id)] += balances[level.pk]
    unknown = [(p, loc) for p, loc in watched if p.lot_tracked and (p.pk, loc.pk) not in fefo_pairs]
    if unknown:
        totals.update(
            ((row["product_id"], row["location_id"]), row["total"])
            for row in StockLevel.objects.filter(
                product_id__in={p.pk for p, _ in unknown}, location_id__in={loc.pk for _, loc in unknown}
            )
            .values("product_id", "location_id")
            .annotate(total=Sum("on_hand"))
        )
    below = [
        ReplenishmentSuggestion(product=p, location=loc, on_hand_when_raised=totals[(p.pk, loc.pk)])
        for p, loc in watched
        if totals[(p.pk, loc.pk)] < p.safety_stock
    ]
    # The partial unique index keeps it to one open suggestion per product and location.
    ReplenishmentSuggestion.objects.bulk_create(below, ignore_conflicts=True)
