"""Writes to the reporting rollups."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection

from reports.models import SalesDaily


@dataclass(frozen=True)
class SoldLine:
    """Net sales of one line: negative quantity, amount and cost for a return."""

    product_id: int
    location_id: int
    day: date
    quantity: Decimal
    amount: Decimal
    cost: Decimal


def sales_daily_add(*, lines: Iterable[SoldLine]) -> None:
    """Add sold (or returned) lines to the daily rollups, inside the caller's transaction.

    One INSERT ... ON CONFLICT DO UPDATE adds to existing rows, so concurrent sales
    of the same product on the same day never lose an increment. Rows are written in
    key order so that two sales touching the same rollup rows cannot deadlock.
    """
    totals: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0)])
    for line in lines:
        total = totals[(line.product_id, line.location_id, line.day)]
        total[0] += line.quantity
        total[1] += line.amount
        total[2] += line.cost
    if not totals:
        return
    table = SalesDaily._meta.db_table
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(totals))
    params = [v for key in sorted(totals) for v in (*key, *totals[key])]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (product_id, location_id, day, quantity, amount, cost) VALUES {values}
                ON CONFLICT (product_id, location_id, day) DO UPDATE SET
                    quantity = {table}.quantity + excluded.quantity,
                    amount = {table}.amount + excluded.amount,
                    cost = {table}.cost + excluded.cost""",
            params,
        )
