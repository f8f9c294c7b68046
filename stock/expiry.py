"""Near-expiry report: lots expiring soon, per location, with value at cost and a suggested markdown."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from stock.models import Location, StockLevel
from supermarket.money import money

# Days left -> suggested markdown (percent off the selling price); the first row that fits applies.
MARKDOWN_STEPS = ((0, 50), (2, 30), (5, 20))
DEFAULT_MARKDOWN = 10


@dataclass(frozen=True)
class ExpiringLot:
    level: StockLevel
    days_left: int
    value_at_cost: Decimal
    markdown_percent: int | None  # None: expired, to be written off

    @property
    def expired(self) -> bool:
        return self.days_left < 0

    @property
    def markdown_price(self) -> Decimal | None:
        if self.markdown_percent is None:
            return None
        return money(self.level.product.selling_price * (100 - self.markdown_percent) / 100)


def suggested_markdown(days_left: int) -> int | None:
    if days_left < 0:
        return None
    return next((percent for limit, percent in MARKDOWN_STEPS if days_left <= limit), DEFAULT_MARKDOWN)


def near_expiry(*, days: int, location: Location | None = None) -> list[ExpiringLot]:
    """Lots with stock that expire within `days` (expired ones included, first), soonest first."""
    today = timezone.localdate()
    levels = (
        StockLevel.objects.filter(on_hand__gt=0, lot__expiry_date__lte=today + timedelta(days=days))
        .select_related("product", "lot", "location")
        .order_by("lot__expiry_date", "location__code", "product__name")
    )
    if location is not None:
        levels = levels.filter(location=location)
    rows = []
    for level in levels:
        days_left = (level.lot.expiry_date - today).days
        rows.append(
            ExpiringLot(
                level=level,
                days_left=days_left,
                value_at_cost=money(level.on_hand * level.product.purchase_price),
                markdown_percent=suggested_markdown(days_left),
            )
        )
    return rows
