"""Report figures against sums worked out by hand on a small store."""

from datetime import date
from decimal import Decimal as D

import pytest

from catalog.models import Unit
from reports import selectors
from reports.services import SoldLine, sales_daily_add
from stock.models import MovementKind
from stock.services import Move, stock_move_batch
from tests.factories import CategoryFactory, ProductFactory

MON = date(2026, 11, 16)
TUE = date(2026, 11, 17)


@pytest.fixture
def store(floor, backroom):
    drinks = CategoryFactory(name="饮料", name_en="Drinks")
    fresh = CategoryFactory(name="生鲜", name_en="Fresh")
    cola = ProductFactory(category=drinks, purchase_price=D("2.0000"), selling_price=D("3.50"))
    water = ProductFactory(category=drinks, purchase_price=D("1.0000"), selling_price=D("2.00"))
    apples = ProductFactory(category=fresh, unit=Unit.KG, purchase_price=D("6.0000"), selling_price=D("9.80"))
    sales_daily_add(
        lines=[
            # cola: 10 sold Monday, 2 returned Tuesday -> 8 net, 28.00, cost 16
            SoldLine(cola.pk, floor.pk, MON, D(10), D("35.00"), D("20.0000")),
            SoldLine(cola.pk, floor.pk, TUE, D(-2), D("-7.00"), D("-4.0000")),
            # water: 4 on Tuesday -> 8.00, cost 4
            SoldLine(water.pk, floor.pk, TUE, D(4), D("8.00"), D("4.0000")),
            # apples by weight: 1.255 kg + 0.745 kg = 2.000 kg, 12.30 + 7.30 = 19.60, cost 12
            SoldLine(apples.pk, floor.pk, MON, D("1.255"), D("12.30"), D("7.5300")),
            SoldLine(apples.pk, floor.pk, TUE, D("0.745"), D("7.30"), D("4.4700")),
            # the backroom sold nothing to customers, but a stray line there must be filtered by location
            SoldLine(water.pk, backroom.pk, TUE, D(1), D("2.00"), D("1.0000")),
        ]
    )
    return {"drinks": drinks, "fresh": fresh, "cola": cola, "water": water, "apples": apples}


@pytest.mark.django_db
def test_sales_by_category_nets_returns_and_weighed_quantities(store, floor):
    table = selectors.sales_by_category(start=MON, end=TUE, location=floor)
    rows = {r.category: r for r in table.rows}
    drinks, fresh = rows["饮料"], rows["生鲜"]
    assert (drinks.quantity, drinks.amount, drinks.cost, drinks.margin) == (D(12), D("36.00"), D("20.00"), D("16.00"))
    assert (fresh.quantity, fresh.amount, fresh.cost, fresh.margin) == (D("2.000"), D("19.60"), D("12.00"), D("7.60"))
    total = table.totals
    assert (total.quantity, total.amount, total.margin) == (D(14), D("55.60"), D("23.60"))
    # shares: 12 / 14 of the quantity, 36.00 / 55.60 of the amount
    assert (drinks.quantity_share, fresh.quantity_share) == (D("85.71"), D("14.29"))
    assert (drinks.amount_share, fresh.amount_share) == (D("64.75"), D("35.25"))
    assert drinks.margin_percent == D("44.44")  # 16 / 36
    assert [r.category for r in table.rows] == ["饮料", "生鲜"]  # largest amount first


@pytest.mark.django_db
def test_sales_by_category_over_all_locations_includes_the_backroom_line(store):
    table = selectors.sales_by_category(start=MON, end=TUE)
    assert table.totals.amount == D("57.60")


@pytest.mark.django_db
def test_a_period_outside_the_sales_is_empty_and_a_reversed_period_is_refused(store):
    assert selectors.sales_by_category(start=date(2026, 1, 1), end=date(2026, 1, 31)).rows == []
    with pytest.raises(ValueError, match="end date is before the start"):
        selectors.sales_by_category(start=TUE, end=MON)


@pytest.mark.django_db
def test_daily_trend_sets_each_day_beside_last_week_and_last_year(store, floor):
    sales_daily_add(
        lines=[
            SoldLine(store["cola"].pk, floor.pk, date(2026, 11, 9), D(1), D("3.50"), D(2)),
            SoldLine(store["cola"].pk, floor.pk, date(2025, 11, 18), D(2), D("7.00"), D(4)),
        ]
    )
    table = selectors.daily_trend(start=MON, end=TUE, location=floor)
    monday, tuesday = table.rows
    assert (monday.amount, monday.last_week, monday.last_year) == (D("47.30"), D("3.50"), D(0))
    # Tuesday: -7.00 + 8.00 + 7.30; a year ago is 364 days back, the same weekday
    assert (tuesday.amount, tuesday.last_week, tuesday.last_year) == (D("8.30"), D(0), D("7.00"))


@pytest.mark.django_db
def test_top_and_bottom_sellers_rank_by_net_amount(store, floor):
    top = selectors.top_sellers(start=MON, end=TUE, location=floor)
    assert [r.product_id for r in top.rows] == [store["cola"].pk, store["apples"].pk, store["water"].pk]
    assert top.rows[0].amount == D("28.00") and top.rows[0].margin == D("12.00")
    bottom = selectors.top_sellers(start=MON, end=TUE, location=floor, bottom=True, limit=1)
    assert [r.product_id for r in bottom.rows] == [store["water"].pk]


@pytest.mark.django_db
def test_a_product_bought_and_all_returned_is_not_ranked_among_the_sellers(store, floor):
    returned = ProductFactory()
    sales_daily_add(
        lines=[
            SoldLine(returned.pk, floor.pk, MON, D(1), D("4.50"), D("3.2000")),
            SoldLine(returned.pk, floor.pk, TUE, D(-1), D("-4.50"), D("-3.2000")),
        ]
    )
    bottom = selectors.top_sellers(start=MON, end=TUE, location=floor, bottom=True, limit=1)
    assert [r.product_id for r in bottom.rows] == [store["water"].pk]
    every = selectors.top_sellers(start=MON, end=TUE, location=floor, limit=100)
    assert returned.pk not in [r.product_id for r in every.rows]


@pytest.mark.django_db
def test_slow_movers_list_stock_without_recent_sales_with_its_value(store, floor):
    idle = ProductFactory(purchase_price=D("2.5000"))
    stock_move_batch(
        moves=[Move(idle, floor, D(4)), Move(store["cola"], floor, D(6))], kind=MovementKind.RECEIPT, reference="T"
    )
    table = selectors.slow_movers(today=TUE, days=7, location=floor)
    assert [(r.product_id, r.last_sale, r.on_hand, r.stock_value) for r in table.rows] == [
        (idle.pk, None, D(4), D("10.00"))
    ]
    # ten days later cola has not sold for 9 days either; its last sale is Tuesday (a return) -> Monday's sale counts
    later = selectors.slow_movers(today=date(2026, 11, 26), days=7, location=floor)
    cola = next(r for r in later.rows if r.product_id == store["cola"].pk)
    assert (cola.last_sale, cola.idle_days, cola.stock_value) == (MON, 10, D("12.00"))
    assert later.totals.stock_value == D("22.00")
    with pytest.raises(ValueError, match="at least 1"):
        selectors.slow_movers(today=TUE, days=0)


@pytest.mark.django_db
def test_slow_movers_at_the_backroom_count_the_products_sales_on_the_floor(store, floor, backroom):
    idle = ProductFactory(purchase_price=D("2.5000"))
    stock_move_batch(
        moves=[Move(idle, backroom, D(4)), Move(store["cola"], backroom, D(6))],
        kind=MovementKind.RECEIPT,
        reference="T",
    )
    # cola sold on the floor on Monday: its backroom stock is not dead
    table = selectors.slow_movers(today=TUE, days=7, location=backroom)
    assert [r.product_id for r in table.rows] == [idle.pk]
    later = selectors.slow_movers(today=date(2026, 11, 26), days=7, location=backroom)
    cola = next(r for r in later.rows if r.product_id == store["cola"].pk)
    assert (cola.last_sale, cola.idle_days, cola.on_hand) == (MON, 10, D(6))


@pytest.mark.django_db
def test_stock_valuation_values_on_hand_at_purchase_price_per_category(store, floor, backroom):
    stock_move_batch(
        moves=[
            Move(store["cola"], floor, D(10)),
            Move(store["cola"], backroom, D(20)),
            Move(store["apples"], floor, D("3.5")),
        ],
        kind=MovementKind.RECEIPT,
        reference="T",
    )
    table = selectors.stock_valuation()
    rows = {r.category: r for r in table.rows}
    assert rows["饮料"].stock_value == D("60.00") and rows["饮料"].products == 1
    assert rows["生鲜"].stock_value == D("21.00")
    assert table.totals.stock_value == D("81.00")
    assert selectors.stock_valuation(location=backroom).totals.stock_value == D("40.00")


@pytest.fixture
def two_others(floor):
    """Two categories named 其他 under different parents, each with stock and a sale."""
    others = [CategoryFactory(name="其他", parent=CategoryFactory(name=parent)) for parent in ("饮料", "零食")]
    products = [
        ProductFactory(category=others[0], purchase_price=D("2.0000")),
        ProductFactory(category=others[1], purchase_price=D("3.0000")),
    ]
    stock_move_batch(
        moves=[Move(products[0], floor, D(10)), Move(products[1], floor, D(10))],
        kind=MovementKind.RECEIPT,
        reference="T",
    )
    sales_daily_add(
        lines=[
            SoldLine(products[0].pk, floor.pk, MON, D(1), D("5.00"), D("2.0000")),
            SoldLine(products[1].pk, floor.pk, MON, D(1), D("7.00"), D("3.0000")),
        ]
    )
    return products


@pytest.mark.django_db
def test_categories_sharing_a_leaf_name_are_separate_rows_named_by_their_path(two_others, floor):
    valuation = selectors.stock_valuation()
    assert sorted((r.category, r.products, r.stock_value) for r in valuation.rows) == [
        ("零食 / 其他", 1, D("30.00")),
        ("饮料 / 其他", 1, D("20.00")),
    ]
    sales = selectors.sales_by_category(start=MON, end=MON)
    assert sorted((r.category, r.amount) for r in sales.rows) == [
        ("零食 / 其他", D("7.00")),
        ("饮料 / 其他", D("5.00")),
    ]
    top = selectors.top_sellers(start=MON, end=MON)
    assert sorted(r.category for r in top.rows) == ["零食 / 其他", "饮料 / 其他"]
    idle = selectors.slow_movers(today=date(2026, 12, 31), days=7)
    assert sorted(r.category for r in idle.rows) == ["零食 / 其他", "饮料 / 其他"]
