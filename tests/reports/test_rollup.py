import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction

from reports.models import SalesDaily
from reports.services import SoldLine, sales_daily_add
from tests.factories import ProductFactory

DAY = date(2026, 11, 20)


@pytest.mark.django_db
def test_lines_are_added_to_the_days_row_and_returns_subtract(floor):
    product = ProductFactory()
    sales_daily_add(lines=[SoldLine(product.pk, floor.pk, DAY, Decimal(2), Decimal("9.00"), Decimal("6.40"))])
    sales_daily_add(
        lines=[
            SoldLine(product.pk, floor.pk, DAY, Decimal("1.5"), Decimal("6.75"), Decimal("4.80")),
            SoldLine(product.pk, floor.pk, DAY, Decimal(-1), Decimal("-4.50"), Decimal("-3.20")),
        ]
    )
    row = SalesDaily.objects.get(product=product, day=DAY)
    assert (row.quantity, row.amount, row.cost) == (Decimal("2.5"), Decimal("11.25"), Decimal("8.00"))


@pytest.mark.django_db(transaction=True)
def test_concurrent_additions_lose_no_increment(floor):
    product = ProductFactory()
    barrier = threading.Barrier(8)

    def till():
        barrier.wait()
        for _ in range(20):
            with transaction.atomic():
                sales_daily_add(lines=[SoldLine(product.pk, floor.pk, DAY, Decimal(1), Decimal("4.50"), Decimal(3))])
        connection.close()

    threads = [threading.Thread(target=till) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    row = SalesDaily.objects.get(product=product, day=DAY)
    assert row.quantity == 160 and row.amount == Decimal("720.00")
