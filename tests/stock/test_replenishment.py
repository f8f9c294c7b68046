from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.utils import timezone

from reports.services import SoldLine, sales_daily_add
from stock.models import MovementKind, PurchaseOrder, ReplenishmentSuggestion
from stock.purchasing import OrderLine, purchase_order_create
from stock.replenishment import (
    expected_daily_demand,
    open_suggestions,
    out_of_stock_on_order,
    suggested_quantity,
    suggestion_dismiss,
    suggestion_rows,
    suggestions_order,
)
from stock.services import Move, stock_move_batch
from tests.factories import ProductBarcodeFactory, ProductFactory, SupplierFactory

pytestmark = pytest.mark.django_db


def sold_per_day(product, location, per_day: Decimal, days: int = 28):
    today = timezone.localdate()
    sales_daily_add(
        lines=[
            SoldLine(product.pk, location.pk, today - timedelta(days=d), per_day, per_day * 5, per_day * 3)
            for d in range(1, days + 1)
        ]
    )


def below_safety(product, location, on_hand: int):
    stock_move_batch(moves=[Move(product, location, Decimal(on_hand + 1))], kind=MovementKind.RECEIPT)
    stock_move_batch(moves=[Move(product, location, Decimal(-1))], kind=MovementKind.SALE)
    return ReplenishmentSuggestion.objects.get(product=product, location=location, status="open")


def test_demand_is_the_28_day_sales_average(floor):
    product = ProductFactory()
    sold_per_day(product, floor, Decimal(3))
    # Older sales are outside the window, and so is today, which is not over.
    today = timezone.localdate()
    for day in (today - timedelta(days=29), today - timedelta(days=40), today):
        sales_daily_add(lines=[SoldLine(product.pk, floor.pk, day, Decimal(28), 1, 1)])
    assert expected_daily_demand(product, floor) == Decimal(3)


def test_suggested_quantity_covers_lead_time_and_review_period_in_whole_packs(settings):
    settings.STOCK_REVIEW_PERIOD_DAYS = 7
    quantity = suggested_quantity(
        daily_demand=Decimal(2),
        horizon_days=10,
        safety_stock=Decimal(5),
        on_hand=Decimal(3),
        on_order=Decimal(4),
        pack=6,
    )
    # 2 × 10 + 5 - 3 - 4 = 18 -> three packs of 6
    assert quantity == 18
    assert (
        suggested_quantity(
            daily_demand=Decimal(0),
            horizon_days=10,
            safety_stock=Decimal(5),
            on_hand=Decimal(3),
            on_order=Decimal(4),
            pack=6,
        )
        == 0
    )


def test_rows_use_sales_on_hand_on_order_and_pack(floor, settings):
    settings.STOCK_REVIEW_PERIOD_DAYS = 7
    supplier = SupplierFactory(lead_time_days=3)
    product = ProductFactory(supplier=supplier, safety_stock=Decimal(10))
    ProductBarcodeFactory(product=product, pack_quantity=12)
    sold_per_day(product, floor, Decimal(2))
    suggestion = below_safety(product, floor, on_hand=4)
    purchase_order_create(supplier=supplier, lines=[OrderLine(product, Decimal(5))])
    [row] = suggestion_rows(open_suggestions())
    assert row.suggestion == suggestion
    assert (row.on_hand, row.on_order, row.daily_demand, row.pack) == (4, 5, 2, 12)
    # 2 × (3 + 7) + 10 - 4 - 5 = 21 -> 24 in cases of 12
    assert row.quantity == 24


def test_an_order_counts_as_coming_only_to_the_location_it_is_delivered_to(floor, backroom):
    product = ProductFactory(safety_stock=Decimal(10))
    on_floor, in_backroom = below_safety(product, floor, on_hand=0), below_safety(product, backroom, on_hand=0)
    purchase_order_create(supplier=product.supplier, location=floor, lines=[OrderLine(product, Decimal(50))])
    rows = {row.suggestion: row for row in suggestion_rows([on_floor, in_backroom])}
    assert (rows[on_floor].on_order, rows[on_floor].quantity) == (50, 0)
    assert (rows[in_backroom].on_order, rows[in_backroom].quantity) == (0, 10)
    assert rows[on_floor].out_of_stock_on_order and not rows[in_backroom].out_of_stock_on_order
    # Ordering both: the backroom's suggestion gets its order, the floor's is skipped as covered.
    result = suggestions_order(suggestions=[on_floor, in_backroom])
    [order] = result.orders
    assert (order.location, order.lines.get().quantity) == (backroom, 10)
    assert [s for s, _reason in result.skipped] == [on_floor]


def test_selected_suggestions_become_one_draft_order_per_supplier(floor, django_user_model):
    user = django_user_model.objects.create_user("buyer")
    north, south = SupplierFactory(name="北方"), SupplierFactory(name="南方")
    products = [ProductFactory(supplier=s, safety_stock=Decimal(6)) for s in (north, north, south)]
    orphan = ProductFactory(supplier=None, safety_stock=Decimal(6))
    suggestions = [below_safety(p, floor, on_hand=1) for p in [*products, orphan]]
    result = suggestions_order(suggestions=suggestions, user=user)
    assert [(o.supplier, o.status, o.lines.count()) for o in result.orders] == [
        (north, "draft", 2),
        (south, "draft", 1),
    ]
    assert [(s, reason) for s, reason in result.skipped] == [(suggestions[3], f"{orphan.name} has no supplier.")]
    assert set(ReplenishmentSuggestion.objects.filter(status="ordered").values_list("product", flat=True)) == {
        p.pk for p in products
    }
    with pytest.raises(ValidationError, match="None of the chosen suggestions is still open"):
        suggestions_order(suggestions=suggestions[:3], user=user)
    assert PurchaseOrder.objects.count() == 2


def test_a_delisted_product_raises_no_suggestion_and_its_open_one_is_not_ordered(floor, django_user_model):
    user = django_user_model.objects.create_user("buyer")
    product = ProductFactory(supplier=SupplierFactory(), safety_stock=Decimal(6))
    suggestion = below_safety(product, floor, on_hand=1)
    product.active = False
    product.save()
    result = suggestions_order(suggestions=[suggestion], user=user)
    assert result.orders == [] and result.skipped == [(suggestion, f"{product.name} is delisted.")]
    assert not PurchaseOrder.objects.exists()

    suggestion_dismiss(suggestion=suggestion, reason="已下架", user=user)
    stock_move_batch(moves=[Move(product, floor, Decimal(-1))], kind=MovementKind.SALE)
    assert not ReplenishmentSuggestion.objects.filter(status="open").exists()


def test_dismiss_needs_a_reason_and_closes_the_suggestion(floor, django_user_model):
    user = django_user_model.objects.create_user("buyer")
    product = ProductFactory(safety_stock=Decimal(5))
    suggestion = below_safety(product, floor, on_hand=2)
    with pytest.raises(ValidationError, match="Say why"):
        suggestion_dismiss(suggestion=suggestion, reason=" ", user=user)
    suggestion_dismiss(suggestion=suggestion, reason="季节性商品 seasonal, delisted", user=user)
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.closed_by) == ("dismissed", user)
    with pytest.raises(ValidationError, match="already dismissed"):
        suggestion_dismiss(suggestion=suggestion, reason="again", user=user)


def test_out_of_stock_product_with_an_open_order_is_shown_as_such(floor):
    product = ProductFactory(safety_stock=Decimal(5))
    below_safety(product, floor, on_hand=0)
    purchase_order_create(supplier=product.supplier, lines=[OrderLine(product, Decimal(10))])
    [row] = suggestion_rows(open_suggestions())
    assert row.out_of_stock_on_order


def test_a_stored_forecast_wins_over_the_sales_average(floor, settings):
    settings.STOCK_REVIEW_PERIOD_DAYS = 7
    try:
        forecast_model = apps.get_model("reports", "Forecast")
        day_model = apps.get_model("reports", "ForecastDay")
    except LookupError:
        pytest.skip("reports has no stored forecasts")
    product = ProductFactory()
    sold_per_day(product, floor, Decimal(3))
    today = timezone.localdate()
    forecast = forecast_model.objects.create(
        product=product, location=floor, made_at=timezone.now(), history_end=today, method="mean"
    )
    day_model.objects.bulk_create(
        day_model(forecast=forecast, day=today + timedelta(days=d), mean=Decimal(d % 2 * 10), lower=0, upper=20)
        for d in range(60)
    )
    horizon = product.supplier.lead_time_days + 7
    expected = Decimal(sum(d % 2 * 10 for d in range(horizon))) / horizon
    assert expected_daily_demand(product, floor) == expected
    assert expected_daily_demand(ProductFactory(), floor) == 0


def test_out_of_stock_products_with_an_open_order_are_listed_with_it(floor, backroom):
    empty, stocked_elsewhere, stocked = ProductFactory(), ProductFactory(), ProductFactory()
    stock_move_batch(moves=[Move(stocked_elsewhere, backroom, Decimal(9))], kind=MovementKind.RECEIPT)
    stock_move_batch(moves=[Move(stocked, floor, Decimal(2))], kind=MovementKind.RECEIPT)
    for product in (empty, stocked_elsewhere, stocked):
        purchase_order_create(supplier=product.supplier, location=floor, lines=[OrderLine(product, Decimal(6))])
    cancelled = ProductFactory()
    order = purchase_order_create(supplier=cancelled.supplier, lines=[OrderLine(cancelled, Decimal(6))])
    PurchaseOrder.objects.filter(pk=order.pk).update(status=PurchaseOrder.Status.CANCELLED)
    rows = list(out_of_stock_on_order())
    assert {(line.product, line.on_hand, line.outstanding) for line in rows} == {
        (empty, 0, 6),
        (stocked_elsewhere, 0, 6),
    }
