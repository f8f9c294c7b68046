"""Every report page: its title, the query that builds its table, its chart and the filters it takes.

The report page, its CSV/XLSX download and the background export job all look a report up here by its slug.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from reports import operations, selectors
from reports.selectors import Table


@dataclass(frozen=True)
class Report:
    title: str
    build: Callable[[dict], Table]
    chart: Callable[[Table], str] | None = None
    filters: tuple[str, ...] = ("start", "end", "location")


# Each chart imports reports.charts when it draws: matplotlib costs a process tens of MB, and a web worker
# that loads this registry to route its URLs need not carry it before a report page asks for a chart.


def _category_chart(table: Table) -> str:
    from reports import charts

    return charts.bar_chart(
        [r.category for r in table.rows],
        [float(r.amount) for r in table.rows],
        title=str(_("Sales amount by category")),
    )


def _trend_chart(table: Table) -> str:
    from reports import charts

    return charts.line_chart(
        [r.day for r in table.rows],
        {
            str(_("Sales amount")): [float(r.amount) for r in table.rows],
            str(_("Same weekday last week")): [float(r.last_week) for r in table.rows],
            str(_("Same weekday last year")): [float(r.last_year) for r in table.rows],
        },
        title=str(_("Daily sales")),
    )


def _product_chart(table: Table) -> str:
    from reports import charts

    return charts.bar_chart(
        [r.product for r in table.rows], [float(r.amount) for r in table.rows], title=str(_("Sales amount"))
    )


def _valuation_chart(table: Table) -> str:
    from reports import charts

    return charts.bar_chart(
        [r.category for r in table.rows],
        [float(r.stock_value) for r in table.rows],
        title=str(_("Stock value at cost")),
    )


def _hour_chart(table: Table) -> str:
    from reports import charts

    return charts.column_chart(
        [f"{r.hour:02d}" for r in table.rows],
        [float(r.sales_per_day) for r in table.rows],
        title=str(_("Sales per day by hour of day")),
    )


def _accuracy_chart(table: Table) -> str:
    from reports import charts

    return charts.line_chart(
        [r.posted_at for r in table.rows],
        {
            str(_("Accuracy %")): [float(r.accuracy or 0) for r in table.rows],
            str(_("Within tolerance %")): [float(r.within_tolerance or 0) for r in table.rows],
        },
        title=str(_("Stocktake accuracy")),
        markers=True,
    )


SHIFT_FILTERS = ("start", "end", "location", "register", "cashier")

REPORTS = {
    "sales-by-category": Report(
        _("Sales by category"),
        lambda f: selectors.sales_by_category(start=f["start"], end=f["end"], location=f["location"]),
        _category_chart,
    ),
    "daily-trend": Report(
        _("Daily sales trend"),
        lambda f: selectors.daily_trend(start=f["start"], end=f["end"], location=f["location"]),
        _trend_chart,
    ),
    "top-sellers": Report(
        _("Top sellers"),
        lambda f: selectors.top_sellers(start=f["start"], end=f["end"], location=f["location"]),
        _product_chart,
    ),
    "bottom-sellers": Report(
        _("Bottom sellers"),
        lambda f: selectors.top_sellers(start=f["start"], end=f["end"], location=f["location"], bottom=True),
        _product_chart,
    ),
    "slow-movers": Report(
        _("Slow movers and dead stock"),
        lambda f: selectors.slow_movers(today=f["end"], days=f["days"], location=f["location"]),
        filters=("end", "days", "location"),
    ),
    "stock-valuation": Report(
        _("Stock valuation at cost"),
        lambda f: selectors.stock_valuation(location=f["location"]),
        _valuation_chart,
        filters=("location",),
    ),
    "sales-by-hour": Report(
        _("Sales by hour of day"),
        lambda f: operations.sales_by_hour(start=f["start"], end=f["end"], location=f["location"]),
        _hour_chart,
    ),
    "shift-z-reports": Report(
        _("Shift Z-reports"),
        lambda f: operations.shift_z_reports(
            start=f["start"], end=f["end"], location=f["location"], register=f["register"], cashier=f["cashier"]
        ),
        filters=SHIFT_FILTERS,
    ),
    "shift-totals-by-cashier": Report(
        _("Shift totals by cashier"),
        lambda f: operations.shift_totals_by_cashier(
            start=f["start"], end=f["end"], location=f["location"], register=f["register"], cashier=f["cashier"]
        ),
        filters=SHIFT_FILTERS,
    ),
    "stocktake-accuracy": Report(
        _("Stocktake accuracy over time"),
        lambda f: operations.stocktake_accuracy(start=f["start"], end=f["end"], location=f["location"]),
        _accuracy_chart,
    ),
}
