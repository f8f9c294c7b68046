"""Replenishment simulation: replay daily demand against two ordering policies and count what each costs.

Both policies see only the days before the one they decide on. Each evening the
policy may order; an order arrives the morning `lead_time` days later. Demand
that finds no stock is lost (a stockout day is a day with lost demand).

Both use the same rule and differ only in their estimate of demand:
reorder when stock on hand plus on order falls to the demand of the next
lead time + COVER_DAYS days, and then order up to that plus the demand of the
following REVIEW_DAYS days.
- fixed min/max: demand is the flat mean of all training days, so the min and
  max are constants (the usual shelf rule);
- forecast-driven: demand is the day-by-day forecast of reports.forecasting,
  refitted every REFIT_DAYS days on what has been sold so far (weekday rhythm,
  recent level, promotions fading).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from django.utils.translation import gettext_lazy as _

from catalog.models import Product
from reports import forecasting, selectors
from reports.models import SalesDaily
from stock.models import Location
from supermarket.money import money

REFIT_DAYS = 7
REVIEW_DAYS = 7
COVER_DAYS = 2  # beyond the lead time: the next chance to order, and a day of safety
Z_INTERVAL = 1.2816  # an 80% two-sided interval's upper bound lies this many standard deviations above the mean
Z_SERVICE = 0.8416  # safety stock for an 80% chance of no stockout before the next order arrives


@dataclass
class Outcome:
    """Units are floats while replaying; the caller prices them in Decimal."""

    stockout_days: int = 0
    lost_units: float = 0.0
    stock_units: float = 0.0  # end-of-day stock summed over the days: divide by days for the average
    days: int = 0


def _replay(demand: np.ndarray, first: int, lead_time: int, start_stock: float, decide) -> Outcome:
    outcome = Outcome(days=demand.size - first)
    on_hand, arriving = start_stock, {}
    for t in range(first, demand.size):
        on_hand += arriving.pop(t, 0.0)
        sold = min(on_hand, demand[t])
        lost = demand[t] - sold
        on_hand -= sold
        if lost > 1e-9:
            outcome.stockout_days += 1
            outcome.lost_units += lost
        outcome.stock_units += on_hand
        order = decide(t, on_hand + sum(arriving.values()))
        if order > 0:
            arriving[t + 1 + lead_time] = arriving.get(t + 1 + lead_time, 0.0) + order
    return outcome


def simulate_product(
    demand: np.ndarray, *, first: int, lead_time: int, start: date, whole_units: bool
) -> tuple[Outcome, Outcome]:
    """Replay demand[first:] (days from `start`, demand[0] being start - first days) under both policies."""
    rounding = np.ceil if whole_units else (lambda x: round(x, 3))
    mean = float(np.mean(demand[:first]))
    low = mean * (lead_time + COVER_DAYS)
    high = low + mean * REVIEW_DAYS
    fixed = _replay(
        demand, first, lead_time, high, lambda t, position: rounding(high - position) if position <= low else 0
    )

    plan = {}

    def forecast_policy(t: int, position: float) -> float:
        since = (t - first) % REFIT_DAYS
        if since == 0 or "result" not in plan:
            result = forecasting.forecast_series(
                demand[: t + 1],
                start=start + timedelta(days=t - first + 1),
                horizon=REFIT_DAYS + lead_time + COVER_DAYS + REVIEW_DAYS,
                order=plan.get("order"),
                search="order" not in plan,
            )
            plan["result"], plan["order"] = result, result.order or plan.get("order")
            if result.order is None:
                plan.pop("order", None)
        result = plan["result"]
        exposure = slice(since, since + lead_time + 1)  # until an order placed tomorrow would arrive
        sigma = (result.upper[exposure] - result.mean[exposure]) / Z_INTERVAL
        reorder_point = result.mean[exposure].sum() + Z_SERVICE * float(np.sqrt(np.sum(sigma**2)))
        if position > reorder_point:
            return 0
        up_to = reorder_point + result.mean[since + lead_time + 1 : since + lead_time + 1 + REVIEW_DAYS].sum()
        return rounding(up_to - position)

    driven = _replay(demand, first, lead_time, high, forecast_policy)
    return fixed, driven


@dataclass
class PolicyTotals:
    policy: str
    stockout_days: int
    lost_units: Decimal
    lost_sales: Decimal
    average_stock_value: Decimal


def simulate_store(
    *, location: Location, end: date, days: int = 84, products: int = 200
) -> tuple[PolicyTotals, PolicyTotals, int]:
    """Replay the last `days` days up to `end` for an evenly spread sample of active products that sold in the
    training part (all the history before those days); returns the totals of the fixed and the forecast-driven
    policy and the number of products."""
    if days < REFIT_DAYS or products < 1:
        raise ValueError(_("Simulate at least a week and one product."))
    first_day = SalesDaily.objects.filter(location=location).order_by("day").values_list("day", flat=True).first()
    history = (end - first_day).days + 1 - days if first_day else 0
    if history < 28:
        raise ValueError(_("Fewer than 28 days of sales before the simulated days: nothing to learn from."))
    candidates = list(Product.objects.filter(active=True).select_related("supplier").order_by("pk"))
    series = selectors.daily_demand(
        product_ids=[p.pk for p in candidates], location_id=location.pk, end=end, days=history + days
    )
    selling = [p for p in candidates if series[p.pk][:history].sum() > 0]
    step = max(1, len(selling) // products)
    sample = selling[::step][:products]
    totals = {"fixed": [0, Decimal(0), Decimal(0), Decimal(0)], "forecast": [0, Decimal(0), Decimal(0), Decimal(0)]}
    start = end - timedelta(days=days - 1)
    for product in sample:
        lead_time = product.supplier.lead_time_days if product.supplier else 2
        outcomes = simulate_product(
            series[product.pk], first=history, lead_time=lead_time, start=start, whole_units=not product.sold_by_weight
        )
        for name, outcome in zip(totals, outcomes, strict=True):
            lost = Decimal(f"{outcome.lost_units:.3f}")
            total = totals[name]
            total[0] += outcome.stockout_days
            total[1] += lost
            total[2] += lost * product.selling_price
            total[3] += Decimal(f"{outcome.stock_units:.3f}") * product.purchase_price / days
    fixed, driven = (PolicyTotals(name, t[0], t[1], money(t[2]), money(t[3])) for name, t in totals.items())
    return fixed, driven, len(sample)
