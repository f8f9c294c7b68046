"""The rollups equal the raw aggregate of the lines they were built from, whatever the order of sales and returns."""

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.db import transaction

from catalog.models import Product
from reports import selectors
from reports.models import SalesCategoryDaily, SalesDaily
from reports.services import SoldLine, sales_daily_add
from tests.factories import CategoryFactory, ProductFactory

START = date(2026, 10, 1)


def random_lines(rng: random.Random, products, locations, count: int) -> list[SoldLine]:
    lines = []
    for _ in range(count):
        product = rng.choice(products)
        qty = D(rng.randint(1, 2500)) / 1000 if product.sold_by_weight else D(rng.randint(1, 6))
        if rng.random() < 0.2:
            qty = -qty  # a return
        price = product.selling_price
        lines.append(
            SoldLine(
                product.pk,
                rng.choice(locations).pk,
                START + timedelta(days=rng.randint(0, 20)),
                qty,
                (qty * price).quantize(D("0.01")),
                qty * product.purchase_price,
            )
        )
    return lines


def raw_by(lines, key) -> dict:
    totals = defaultdict(lambda: [D(0), D(0), D(0)])
    for line in lines:
        total = totals[key(line)]
        total[0] += line.quantity
        total[1] += line.amount
        total[2] += line.cost
    return {k: tuple(v) for k, v in totals.items()}


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollups_equal_the_raw_lines_after_random_sales_and_returns(seed, floor, backroom):
    rng = random.Random(seed)
    categories = [CategoryFactory() for _ in range(3)]
    products = [ProductFactory(category=rng.choice(categories)) for _ in range(6)]
    products += [ProductFactory(category=categories[0], unit="kg", selling_price=D("12.80"))]
    lines = random_lines(rng, products, [floor, backroom], 400)
    for at in range(0, len(lines), 37):  # many sales of a few lines each
        with transaction.atomic():
            sales_daily_add(lines=lines[at : at + 37])

    by_row = raw_by(lines, lambda line: (line.product_id, line.location_id, line.day))
    stored = {(r.product_id, r.location_id, r.day): (r.quantity, r.amount, r.cost) for r in SalesDaily.objects.all()}
    assert stored == by_row

    category_of = dict(Product.objects.values_list("pk", "category_id"))
    by_category = raw_by(lines, lambda line: (category_of[line.product_id], line.location_id, line.day))
    stored = {
        (r.category_id, r.location_id, r.day): (r.quantity, r.amount, r.cost) for r in SalesCategoryDaily.objects.all()
    }
    assert stored == by_category

    report = selectors.sales_by_category(start=START, end=START + timedelta(days=20), location=floor)
    raw_report = raw_by([x for x in lines if x.location_id == floor.pk], lambda line: category_of[line.product_id])
    assert {r.category_id: (r.quantity, r.amount) for r in report.rows} == {
        k: v[:2] for k, v in raw_report.items() if v[0] or v[1]
    }


@pytest.mark.django_db
def test_deleting_a_products_rollups_takes_them_out_of_the_category_rollup(floor):
    category = CategoryFactory()
    keep, gone = ProductFactory(category=category), ProductFactory(category=category)
    sales_daily_add(
        lines=[
            SoldLine(keep.pk, floor.pk, START, D(1), D("4.50"), D(3)),
            SoldLine(gone.pk, floor.pk, START, D(2), D("9.00"), D(6)),
        ]
    )
    SalesDaily.objects.filter(product=gone).delete()
    row = SalesCategoryDaily.objects.get(category=category, day=START)
    assert (row.quantity, row.amount) == (D(1), D("4.50"))
