"""Replenishment: how much to reorder, suggestions into draft purchase orders, dismissals.

Suggested quantity = expected daily demand × (supplier lead time + review period)
+ safety stock - on hand - on order, rounded up to the pack quantity (the largest
case of the product's extra barcodes).
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldError, ValidationError
from django.db import transaction
from django.db.models import Avg, DecimalField, F, Max, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Product, ProductBarcode
from stock.models import Location, PurchaseOrder, PurchaseOrderLine, ReplenishmentSuggestion, StockLevel
from stock.purchasing import OrderLine, on_order_quantities, purchase_order_create

ZERO = Decimal("0")
SALES_WINDOW_DAYS = 28


def _forecast_demand(product: Product, location: Location) -> Decimal | None:
    """Mean expected units per day over the lead time and review period from the stored forecast
    (reports.Forecast with its reports.ForecastDay rows), or None when there is none for the product here.

    Looked up through the app registry so that stock does not import reports (reports depends on stock).
    """
    try:
        forecast_day = apps.get_model("reports", "ForecastDay")
    except LookupError:
        return None
    today = timezone.localdate()
    horizon = today + timedelta(days=review_horizon_days(product))
    try:
        mean = forecast_day.objects.filter(
            forecast__product=product, forecast__location=location, day__gte=today, day__lt=horizon
        ).aggregate(mean=Avg("mean"))["mean"]
    except FieldError:  # a forecast shape this code does not know: fall back to the sales average
        return None
    return None if mean is None else max(Decimal(mean), ZERO)


def expected_daily_demand(product: Product, location: Location) -> Decimal:
    """Units per day expected to sell at a location: the stored forecast when there is one
    (reports.Forecast), otherwise the average daily net sales of the last 28 days (reports.SalesDaily)."""
    forecast = _forecast_demand(product, location)
    if forecast is not None:
        return forecast
    sales_daily = apps.get_model("reports", "SalesDaily")
    # The last SALES_WINDOW_DAYS whole days: today is not over, and would be a 29th day counted as one of 28.
    today = timezone.localdate()
    sold = sales_daily.objects.filter(
        product=product, location=location, day__gte=today - timedelta(days=SALES_WINDOW_DAYS), day__lt=today
    ).aggregate(total=Sum("quantity"))["total"]
    return max(sold or ZERO, ZERO) / SALES_WINDOW_DAYS


def review_horizon_days(product: Product) -> int:
    lead_time = product.supplier.lead_time_days if product.supplier_id else 0
    return lead_time + settings.STOCK_REVIEW_PERIOD_DAYS


def pack_quantities(product_ids: Iterable[int]) -> dict[int, int]:
    """The case size each product is ordered in: its largest extra-barcode pack quantity, else 1."""
    rows = (
        ProductBarcode.objects.filter(product_id__in=list(product_ids))
        .values("product_id")
        .annotate(pack=Max("pack_quantity"))
    )
    return {row["product_id"]: row["pack"] for row in rows.order_by()}


def suggested_quantity(
    *, daily_demand: Decimal, horizon_days: int, safety_stock: Decimal, on_hand: Decimal, on_order: Decimal, pack: int
) -> Decimal:
    """Demand over lead time and review period, plus safety stock, minus on hand and on order,
    rounded up to whole packs; zero when nothing is needed."""
    need = daily_demand * horizon_days + safety_stock - on_hand - on_order
    if need <= 0:
        return ZERO
    return Decimal(math.ceil(need / pack) * pack)


@dataclass(frozen=True)
class SuggestionRow:
    suggestion: ReplenishmentSuggestion
    on_hand: Decimal
    on_order: Decimal
    daily_demand: Decimal
    pack: int
    quantity: Decimal

    @property
    def out_of_stock_on_order(self) -> bool:
        return self.on_hand <= 0 and self.on_order > 0


def suggestion_rows(suggestions: Iterable[ReplenishmentSuggestion]) -> list[SuggestionRow]:
    """Each suggestion with its on hand, on order, demand, pack and suggested quantity."""
    suggestions = list(suggestions)
    product_ids = {s.product_id for s in suggestions}
    on_hand = {
        (row["product_id"], row["location_id"]): row["total"]
        for row in StockLevel.objects.filter(product_id__in=product_ids)
        .values("product_id", "location_id")
        .annotate(total=Sum("on_hand"))
        .order_by()
    }
    on_order = on_order_quantities(product_ids)
    packs = pack_quantities(product_ids)
    rows = []
    for suggestion in suggestions:
        product = suggestion.product
        demand = expected_daily_demand(product, suggestion.location)
        have = on_hand.get((product.pk, suggestion.location_id), ZERO)
        # What is on its way to another location does not count.
        coming = on_order.get((product.pk, suggestion.location_id), ZERO)
        pack = packs.get(product.pk, 1)
        quantity = suggested_quantity(
            daily_demand=demand,
            horizon_days=review_horizon_days(product),
            safety_stock=product.safety_stock,
            on_hand=have,
            on_order=coming,
            pack=pack,
        )
        rows.append(SuggestionRow(suggestion, have, coming, demand, pack, quantity))
    return rows


def out_of_stock_on_order() -> QuerySet[PurchaseOrderLine]:
    """Open order lines still to come for products that have nothing left at the order's location,
    each with on_hand annotated, soonest expected first."""
    on_hand = (
        StockLevel.objects.filter(product=OuterRef("product"), location=OuterRef("order__location"))
        .order_by()
        .values("product")
        .annotate(total=Sum("on_hand"))
        .values("total")
    )
    return (
        PurchaseOrderLine.objects.filter(order__status__in=PurchaseOrder.OPEN, quantity__gt=F("received_quantity"))
        .annotate(on_hand=Coalesce(Subquery(on_hand), Value(ZERO), output_field=DecimalField()))
        .filter(on_hand__lte=0)
        .select_related("product", "order__supplier", "order__location")
        .order_by("order__expected_date", "product__name")
    )


def open_suggestions():
    """Open suggestions with what the rows need, by supplier then product name."""
    return (
        ReplenishmentSuggestion.objects.filter(status=ReplenishmentSuggestion.Status.OPEN)
        .select_related("product__supplier", "location")
        .order_by("product__supplier__name", "product__name")
    )


@dataclass(frozen=True)
class OrderingResult:
    orders: list[PurchaseOrder]
    skipped: list[tuple[ReplenishmentSuggestion, str]]


@transaction.atomic
def suggestions_order(*, suggestions: Iterable[ReplenishmentSuggestion], user=None) -> OrderingResult:
    """Turn open suggestions into draft purchase orders, one per supplier and delivery location.

    Locks the suggestions (two managers pressing the button at once order them once), computes each
    suggested quantity, and marks ordered suggestions with their order. Suggestions that need nothing
    (enough is already on order) or whose product has no supplier or is delisted are skipped with the reason.
    """
    ids = [s.pk for s in suggestions]
    locked = list(
        ReplenishmentSuggestion.objects.select_for_update(of=("self",))
        .filter(pk__in=ids, status=ReplenishmentSuggestion.Status.OPEN)
        .select_related("product__supplier", "location")
        .order_by("pk")
    )
    if not locked:
        raise ValidationError(_("None of the chosen suggestions is still open."))
    groups: dict[tuple, list[SuggestionRow]] = defaultdict(list)
    skipped = []
    for row in suggestion_rows(locked):
        product = row.suggestion.product
        if not product.active:
            skipped.append((row.suggestion, _("%(product)s is delisted.") % {"product": product.name}))
        elif product.supplier_id is None:
            skipped.append((row.suggestion, _("%(product)s has no supplier.") % {"product": product.name}))
        elif row.quantity <= 0:
            skipped.append(
                (row.suggestion, _("%(product)s: enough is on hand or on order.") % {"product": product.name})
            )
        else:
            groups[(product.supplier, row.suggestion.location)].append(row)
    orders = []
    now = timezone.now()
    for (supplier, location), rows in sorted(groups.items(), key=lambda item: (item[0][0].name, item[0][1].pk)):
        order = purchase_order_create(
            supplier=supplier,
            location=location,
            lines=[OrderLine(row.suggestion.product, row.quantity) for row in rows],
            note=_("From replenishment suggestions"),
            user=user,
        )
        ReplenishmentSuggestion.objects.filter(pk__in=[row.suggestion.pk for row in rows]).update(
            status=ReplenishmentSuggestion.Status.ORDERED, purchase_order=order, closed_at=now, closed_by=user
        )
        orders.append(order)
    return OrderingResult(orders=orders, skipped=skipped)


@transaction.atomic
def suggestion_dismiss(*, suggestion: ReplenishmentSuggestion, reason: str, user=None) -> ReplenishmentSuggestion:
    """Close an open suggestion without ordering; the reason is required and kept."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why the suggestion is dismissed."))
    suggestion = ReplenishmentSuggestion.objects.select_for_update().get(pk=suggestion.pk)
    if suggestion.status != ReplenishmentSuggestion.Status.OPEN:
        raise ValidationError(
            _("The suggestion for %(product)s is already %(status)s.")
            % {"product": suggestion.product.name, "status": suggestion.get_status_display()}
        )
    suggestion.status = ReplenishmentSuggestion.Status.DISMISSED
    suggestion.dismissed_reason = reason[:200]
    suggestion.closed_at, suggestion.closed_by = timezone.now(), user
    suggestion.save(update_fields=["status", "dismissed_reason", "closed_at", "closed_by"])
    return suggestion
