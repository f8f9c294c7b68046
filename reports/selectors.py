"""Report queries. They read the daily rollups (SalesDaily), never raw sale lines.

Each report returns a Table: typed columns and rows, which the pages render,
chart and export alike, so a number on screen and in the spreadsheet is the same.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Max, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from catalog.models import Product
from catalog.selectors import category_paths
from reports.models import Forecast, ForecastDay, SalesCategoryDaily, SalesDaily
from stock.models import Location, StockLevel
from supermarket.money import money, quantity

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text, quantity, money, percent, date


@dataclass
class Table:
    columns: list[Column]
    rows: list = field(default_factory=list)  # objects with the column keys as attributes
    totals: object | None = None

    def values(self, row) -> list:
        return [getattr(row, c.key) for c in self.columns]


@dataclass
class CategorySales:
    category_id: int
    category: str
    quantity: Decimal
    amount: Decimal
    cost: Decimal
    margin: Decimal = ZERO
    margin_percent: Decimal | None = None
    quantity_share: Decimal = ZERO
    amount_share: Decimal = ZERO


def _share(part: Decimal, whole: Decimal) -> Decimal:
    return (HUNDRED * part / whole).quantize(Decimal("0.01")) if whole else ZERO


def _margin(row) -> None:
    # SQLite (the embedded demo) adds decimals as floats: round the sums back to their places.
    row.quantity, row.amount, row.cost = quantity(row.quantity), money(row.amount), money(row.cost)
    row.margin = row.amount - row.cost
    row.margin_percent = _share(row.margin, row.amount) if row.amount else None


def _sales(start: date, end: date, location: Location | None, model=SalesDaily):
    if end < start:
        raise ValueError(_("The end date is before the start date."))
    rows = model.objects.filter(day__range=(start, end))
    return rows.filter(location=location) if location else rows


def sales_by_category(*, start: date, end: date, location: Location | None = None) -> Table:
    """Net sales per category from the category rollup (returns already subtracted): quantity, amount, shares, gross margin.

    Gross margin is net amount minus the purchase cost recorded with each sale.
    """
    totals = (
        _sales(start, end, location, SalesCategoryDaily)
        .values("category_id")
        .annotate(quantity=Sum("quantity"), amount=Sum("amount"), cost=Sum("cost"))
        .order_by()
    )
    paths = category_paths()
    rows = [
        CategorySales(t["category_id"], paths[t["category_id"]], t["quantity"], t["amount"], t["cost"])
        for t in totals
        if t["quantity"] or t["amount"]  # a category whose sales were all returned is not a row
    ]
    total = CategorySales(
        0,
        str(_("Total")),
        sum((r.quantity for r in rows), ZERO),
        sum((r.amount for r in rows), ZERO),
        sum((r.cost for r in rows), ZERO),
    )
    for row in [*rows, total]:
        _margin(row)
        row.quantity_share = _share(row.quantity, total.quantity)
        row.amount_share = _share(row.amount, total.amount)
    rows.sort(key=lambda r: r.amount, reverse=True)
    return Table(
        [
            Column("category", _("Category")),
            Column("quantity", _("Quantity"), "quantity"),
            Column("quantity_share", _("Share of quantity %"), "percent"),
            Column("amount", _("Sales amount"), "money"),
            Column("amount_share", _("Share of amount %"), "percent"),
            Column("cost", _("Cost"), "money"),
            Column("margin", _("Gross margin"), "money"),
            Column("margin_percent", _("Margin %"), "percent"),
        ],
        rows,
        total,
    )


@dataclass
class DaySales:
    day: date
    amount: Decimal
    quantity: Decimal
    last_week: Decimal
    last_year: Decimal


def _amount_by_day(start: date, end: date, location: Location | None) -> dict[date, tuple[Decimal, Decimal]]:
    rows = _sales(start, end, location).values("day").annotate(amount=Sum("amount"), quantity=Sum("quantity"))
    return {r["day"]: (money(r["amount"]), quantity(r["quantity"])) for r in rows.order_by()}


def daily_trend(*, start: date, end: date, location: Location | None = None) -> Table:
    """Net sales per day beside the same weekday a week earlier and the same day a year earlier (364 days,
    so weekdays line up)."""
    current = _amount_by_day(start, end, location)
    week = _amount_by_day(start - timedelta(days=7), end - timedelta(days=7), location)
    year = _amount_by_day(start - timedelta(days=364), end - timedelta(days=364), location)
    rows = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        amount, qty = current.get(day, (ZERO, ZERO))
        rows.append(
            DaySales(
                day,
                amount,
                qty,
                week.get(day - timedelta(days=7), (ZERO, ZERO))[0],
                year.get(day - timedelta(days=364), (ZERO, ZERO))[0],
            )
        )
    return Table(
        [
            Column("day", _("Day"), "date"),
            Column("quantity", _("Quantity"), "quantity"),
            Column("amount", _("Sales amount"), "money"),
            Column("last_week", _("Same weekday last week"), "money"),
            Column("last_year", _("Same weekday last year"), "money"),
        ],
        rows,
    )


@dataclass
class ProductSales:
    product_id: int
    product: str
    barcode: str
    category: str
    quantity: Decimal
    amount: Decimal
    cost: Decimal
    margin: Decimal = ZERO
    margin_percent: Decimal | None = None


PRODUCT_COLUMNS = [
    Column("barcode", _("Barcode")),
    Column("product", _("Product")),
    Column("category", _("Category")),
    Column("quantity", _("Quantity"), "quantity"),
    Column("amount", _("Sales amount"), "money"),
    Column("margin", _("Gross margin"), "money"),
    Column("margin_percent", _("Margin %"), "percent"),
]


def top_sellers(
    *, start: date, end: date, location: Location | None = None, limit: int = 20, bottom: bool = False
) -> Table:
    """Products ranked by net sales amount; bottom=True ranks the weakest of those that sold at all
    (products with no sale are the dead-stock report's business)."""
    totals = (
        _sales(start, end, location)
        .values("product_id", "product__name", "product__barcode", "product__category_id")
        .annotate(quantity=Sum("quantity"), amount=Sum("amount"), cost=Sum("cost"))
        # a product whose sales were all returned sold nothing: not the weakest seller, not a row
        .exclude(quantity=0, amount=0)
        .order_by("amount" if bottom else "-amount", "product_id")[:limit]
    )
    paths = category_paths()
    rows = []
    for t in totals:
        row = ProductSales(
            t["product_id"],
            t["product__name"],
            t["product__barcode"],
            paths[t["product__category_id"]],
            t["quantity"],
            t["amount"],
            t["cost"],
        )
        _margin(row)
        rows.append(row)
    return Table(PRODUCT_COLUMNS, rows)


@dataclass
class IdleStock:
    product_id: int
    product: str
    barcode: str
    category: str
    last_sale: date | None
    idle_days: int | None
    on_hand: Decimal
    stock_value: Decimal


def slow_movers(*, today: date, days: int = 30, location: Location | None = None) -> Table:
    """Products in stock with no sale in the last `days` days (dead stock when never sold), with the
    money tied up in them at purchase cost, largest first.

    The location chooses the stock only: sales are counted wherever they happened, since customers buy on
    the floor and a backroom never sells, yet its stock moves when the floor's does.
    """
    if days < 1:
        raise ValueError(_("The number of days must be at least 1."))
    since = today - timedelta(days=days - 1)
    sales = SalesDaily.objects.filter(quantity__gt=0)
    levels = StockLevel.objects.filter(on_hand__gt=0)
    if location:
        levels = levels.filter(location=location)
    recent = set(sales.filter(day__range=(since, today)).values_list("product_id", flat=True).distinct())
    on_hand = defaultdict(lambda: ZERO)
    for product_id, qty in levels.values_list("product_id", "on_hand"):
        on_hand[product_id] += qty
    idle = [pid for pid in on_hand if pid not in recent]
    last_sale = dict(
        sales.filter(product_id__in=idle)
        .values("product_id")
        .annotate(last=Max("day"))
        .values_list("product_id", "last")
    )
    paths = category_paths()
    rows = []
    for p in Product.objects.filter(pk__in=idle):
        last = last_sale.get(p.pk)
        rows.append(
            IdleStock(
                p.pk,
                p.name,
                p.barcode,
                paths[p.category_id],
                last,
                (today - last).days if last else None,
                on_hand[p.pk],
                money(on_hand[p.pk] * p.purchase_price),
            )
        )
    rows.sort(key=lambda r: (-r.stock_value, r.product_id))
    return Table(
        [
            Column("barcode", _("Barcode")),
            Column("product", _("Product")),
            Column("category", _("Category")),
            Column("last_sale", _("Last sale"), "date"),
            Column("idle_days", _("Days without sale"), "quantity"),
            Column("on_hand", _("On hand"), "quantity"),
            Column("stock_value", _("Stock value at cost"), "money"),
        ],
        rows,
        IdleStock(
            0,
            str(_("Total")),
            "",
            "",
            None,
            None,
            sum((r.on_hand for r in rows), ZERO),
            sum((r.stock_value for r in rows), ZERO),
        ),
    )


@dataclass
class CategoryValue:
    category_id: int
    category: str
    products: int
    on_hand: Decimal
    stock_value: Decimal
    share: Decimal = ZERO


def stock_valuation(*, location: Location | None = None) -> Table:
    """Stock on hand valued at current purchase price, per category (by id: leaf names repeat)."""
    levels = StockLevel.objects.filter(~Q(on_hand=0))
    if location:
        levels = levels.filter(location=location)
    value = ExpressionWrapper(F("on_hand") * F("product__purchase_price"), output_field=DecimalField())
    totals = (
        levels.values("product__category_id")
        .annotate(units=Sum("on_hand"), value=Coalesce(Sum(value), ZERO), products=Count("product_id", distinct=True))
        .order_by()
    )
    paths = category_paths()
    rows = [
        CategoryValue(
            t["product__category_id"], paths[t["product__category_id"]], t["products"], t["units"], money(t["value"])
        )
        for t in totals
    ]
    total = CategoryValue(
        0,
        str(_("Total")),
        sum(r.products for r in rows),
        sum((r.on_hand for r in rows), ZERO),
        sum((r.stock_value for r in rows), ZERO),
    )
    for row in [*rows, total]:
        row.share = _share(row.stock_value, total.stock_value)
    rows.sort(key=lambda r: r.stock_value, reverse=True)
    return Table(
        [
            Column("category", _("Category")),
            Column("products", _("Products"), "quantity"),
            Column("on_hand", _("On hand"), "quantity"),
            Column("stock_value", _("Stock value at cost"), "money"),
            Column("share", _("Share %"), "percent"),
        ],
        rows,
        total,
    )


# Forecasts ------------------------------------------------------------------------------


def stored_daily_demand(product: Product, location: Location) -> Decimal | None:
    """Mean forecast demand per day over the stored horizon; None when no forecast is stored.

    Replenishment reads this to size orders (lead time x daily demand + safety stock).
    """
    days = ForecastDay.objects.filter(forecast__product=product, forecast__location=location)
    means = list(days.values_list("mean", flat=True))
    if not means:
        return None
    return (sum(means, ZERO) / len(means)).quantize(Decimal("0.001"))


def daily_demand(*, product_ids, location_id: int, end: date, days: int):
    """Daily net quantity sold per product over `days` days ending on `end`, zero days included: {id: ndarray}."""
    import numpy as np

    start = end - timedelta(days=days - 1)
    series = {pid: np.zeros(days) for pid in product_ids}
    rows = SalesDaily.objects.filter(product_id__in=list(product_ids), location_id=location_id, day__range=(start, end))
    for product_id, day, qty in rows.values_list("product_id", "day", "quantity").iterator(chunk_size=20000):
        series[product_id][(day - start).days] = float(qty)
    return series


def forecast_for(product: Product, location: Location) -> Forecast | None:
    return Forecast.objects.filter(product=product, location=location).prefetch_related("days").first()


def latest_forecast_days(product_id: int) -> list[ForecastDay]:
    """The days of the product's most recently made forecast (at any location), each with its forecast and
    location: one query, for the product's admin page."""
    latest = Forecast.objects.filter(product_id=product_id).order_by("-made_at", "-pk").values("pk")[:1]
    return list(
        ForecastDay.objects.filter(forecast=Subquery(latest)).select_related("forecast__location").order_by("day")
    )


@dataclass
class BacktestRow:
    product_id: int
    barcode: str
    product: str
    method: str
    mase: float
    naive_mase: float


def forecast_backtest(
    *, location: Location, end: date, products: list[Product], holdout: int = 28, history: int = 365
) -> list[BacktestRow]:
    """Backtest of each product's forecast over the last `holdout` days to `end` (reports.forecasting.backtest_series);
    products whose training part has no weekly variation to scale by are left out."""
    from reports import forecasting

    series = daily_demand(product_ids=[p.pk for p in products], location_id=location.pk, end=end, days=history)
    rows = []
    for product in products:
        result = forecasting.backtest_series(series[product.pk], end=end, holdout=holdout)
        if result is not None:
            rows.append(
                BacktestRow(product.pk, product.barcode, product.name, result.method, result.mase, result.naive_mase)
            )
    return rows
