import random
import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from reports.models import SalesCategoryDaily, SalesDaily
from reports.services import SoldLine, sales_daily_add
from tests.factories import CategoryFactory, ProductFactory

DAY = date(2026, 11, 20)


@pytest.mark.django_db(transaction=True)
def test_sales_across_categories_in_any_order_never_deadlock(floor):
    # Product ids ascend against their categories' ids, so product order and category order disagree.
    categories = CategoryFactory.create_batch(4)
    products = [ProductFactory(category=categories[-1 - i % 4]) for i in range(8)]
    errors = []
    barrier = threading.Barrier(8)

    def till(seed):
        rng = random.Random(seed)
        barrier.wait()
        try:
            for _ in range(25):
                with transaction.atomic():
                    sales_daily_add(
                        lines=[
                            SoldLine(p.pk, floor.pk, DAY, Decimal(1), Decimal("2.00"), Decimal("1.00"))
                            for p in rng.sample(products, 4)
                        ]
                    )
        except Exception as exc:  # a deadlock aborts the sale: the test must see it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=till, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert SalesDaily.objects.aggregate(q=Sum("quantity"))["q"] == 8 * 25 * 4
    assert SalesCategoryDaily.objects.aggregate(q=Sum("quantity"))["q"] == 8 * 25 * 4
