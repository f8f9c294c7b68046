"""Reads of stock shared by the till, the admin, reports and checks."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from stock.models import Location, StockLevel, StockMovement
from supermarket.money import quantity

ZERO = Decimal("0")


@dataclass(frozen=True)
class LedgerMismatch:
    product_id: int
    location_id: int
    lot_id: int | None
    on_hand: Decimal
    ledger_sum: Decimal


def ledger_mismatches() -> list[LedgerMismatch]:
    """Every (product, location, lot) whose on_hand differs from the sum of its movements.

    Both are read in one snapshot (REPEATABLE READ on PostgreSQL, a transaction on SQLite), so sales committing
    while the check runs cannot make a level and its movements look apart.
    """
    # Inside a caller's transaction its snapshot rules (and the level can only be set before its first query).
    own_snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if own_snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        sums = {
            (r["product_id"], r["location_id"], r["lot_id"]): r["total"]
            for r in StockMovement.objects.order_by()
            .values("product_id", "location_id", "lot_id")
            .annotate(total=Sum("quantity"))
        }
        mismatches = []
        levels = StockLevel.objects.values("product_id", "location_id", "lot_id", "on_hand")
        for level in levels.iterator(chunk_size=5000):
            key = (level["product_id"], level["location_id"], level["lot_id"])
            total = sums.pop(key, ZERO)
            if total != level["on_hand"]:
                mismatches.append(LedgerMismatch(*key, on_hand=level["on_hand"], ledger_sum=total))
    # Movements with no level row at all.
    mismatches += [LedgerMismatch(*key, on_hand=ZERO, ledger_sum=total) for key, total in sums.items() if total]
    return mismatches


def lot_stock_exists(product_id: int) -> bool:
    """Whether any of the product's stock, anywhere, is held in lot rows (positive or negative)."""
    return StockLevel.objects.filter(product_id=product_id, lot__isnull=False).exclude(on_hand=0).exists()


def on_hand_subquery(location=None):
    """Subquery giving a product's total on-hand (optionally at one location), for annotations."""
    levels = StockLevel.objects.filter(product=OuterRef("pk"))
    if location is not None:
        levels = levels.filter(location=location)
    total = levels.order_by().values("product").annotate(total=Sum("on_hand")).values("total")
    return Coalesce(Subquery(total), Value(ZERO), output_field=DecimalField(max_digits=14, decimal_places=3))


@dataclass(frozen=True)
class LocationOnHand:
    code: str
    name: str
    on_hand: Decimal


def on_hand_by_location(product_id: int) -> list[LocationOnHand]:
    """On-hand of one product per location (in location code order), read from the database of record.

    Written as SQL because it runs on every API scan: compiling this GROUP BY through the ORM cost four times
    the query itself.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT l.code, l.name, SUM(s.on_hand)
                FROM {StockLevel._meta.db_table} s JOIN {Location._meta.db_table} l ON l.id = s.location_id
                WHERE s.product_id = %s
                GROUP BY l.code, l.name
                ORDER BY l.code""",
            [product_id],
        )
        # SQLite sums decimals as floats: every backend's answer is brought to the column's three places.
        return [LocationOnHand(code, name, quantity(total)) for code, name, total in cursor.fetchall()]
