"""Each kind of promotion and the precedence between them, with the figures worked by hand in the comments."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from catalog.models import Unit
from checkout.models import Promotion
from checkout.pricing import LineInput, price_lines
from checkout.promotions import rules_changed
from tests.checkout.promotion_helpers import fresh_rules, make_promotion, price  # noqa: F401 (autouse fixture)
from tests.factories import CategoryFactory, ProductFactory

Kind, Scope = Promotion.Kind, Promotion.Scope
D = Decimal
pytestmark = pytest.mark.django_db


def test_percentage_off_rounds_the_unit_price_to_the_fen():
    product = ProductFactory(selling_price=D("4.99"), tax_rate=D("13"))
    make_promotion("85折", Kind.PERCENT_OFF, value=D("15"), products=[product])
    totals = price((product, 3))
    line = totals.lines[0]
    # 4.99 × 0.85 = 4.2415 -> 4.24 a unit; 3 × 4.24 = 12.72 against 3 × 4.99 = 14.97.
    assert (line.unit_price, line.amount, line.saving, line.regular_amount) == (
        D("4.99"),
        D("12.72"),
        D("2.25"),
        D("14.97"),
    )
    assert line.promotion == "85折"
    # Tax is on what the customer pays: 12.72 × 13 / 113 = 1.4638 -> 1.46.
    assert line.tax == D("1.46")
    assert (totals.total, totals.saving) == (D("12.72"), D("2.25"))


def test_fixed_price_and_amount_off_each():
    fixed = ProductFactory(selling_price=D("6.80"))
    off = ProductFactory(selling_price=D("4.50"))
    make_promotion("特价5元", Kind.FIXED_PRICE, value=D("5.00"), products=[fixed])
    make_promotion("立减1.2元", Kind.AMOUNT_OFF, value=D("1.20"), products=[off])
    totals = price((fixed, 2), (off, 3))
    # 2 × 5.00 = 10.00 (saves 3.60); 3 × (4.50 − 1.20) = 9.90 (saves 3.60).
    assert [(ln.amount, ln.saving) for ln in totals.lines] == [(D("10.00"), D("3.60")), (D("9.90"), D("3.60"))]
    assert totals.total == D("19.90")


def test_three_for_ten_prices_only_whole_groups():
    product = ProductFactory(selling_price=D("3.90"))
    make_promotion("3件10元", Kind.MULTI_PRICE, value=D("10.00"), buy_quantity=3, products=[product])
    # Two are 7.80 with no promotion; three are 10.00; seven are two groups and one more: 20.00 + 3.90 = 23.90.
    assert [(price((product, q)).total, price((product, q)).saving) for q in (2, 3, 7)] == [
        (D("7.80"), D("0")),
        (D("10.00"), D("1.70")),
        (D("23.90"), D("3.40")),
    ]
    assert price((product, 2)).lines[0].promotion == ""


def test_buy_two_get_one_free():
    product = ProductFactory(selling_price=D("5.00"))
    make_promotion("买二送一", Kind.BUY_GET_FREE, buy_quantity=2, free_quantity=1, products=[product])
    # 3 -> pay 2 (10.00); 5 -> one group of three and two more: pay 4 (20.00); 6 -> pay 4.
    assert [price((product, q)).total for q in (2, 3, 5, 6)] == [D("10.00"), D("10.00"), D("20.00"), D("20.00")]


def test_same_product_on_two_lines_is_pooled_for_a_multi_buy():
    product = ProductFactory(selling_price=D("3.90"))
    make_promotion("3件10元", Kind.MULTI_PRICE, value=D("10.00"), buy_quantity=3, products=[product])
    totals = price((product, 1), (product, 2))
    # 3 units: 10.00 instead of 11.70; the saving of 1.70 split by quantity: 1/3 -> 0.57, the last line 1.13.
    assert totals.total == D("10.00")
    assert [ln.saving for ln in totals.lines] == [D("0.57"), D("1.13")]


def test_basket_threshold_discount_is_spread_over_the_lines_by_amount():
    a = ProductFactory(selling_price=D("70.00"))
    b = ProductFactory(selling_price=D("33.33"))
    make_promotion("满100减10", Kind.BASKET, value=D("10"), threshold=D("100"), scope=Scope.STORE)
    assert price((a, 1)).saving == 0  # 70.00 < 100
    totals = price((a, 1), (b, 1))
    # 103.33 ≥ 100: 10 off; 10 × 70 / 103.33 = 6.774 -> 6.77 and the rest, 3.23, on the last line.
    assert [ln.saving for ln in totals.lines] == [D("6.77"), D("3.23")]
    assert (totals.total, totals.saving) == (D("93.33"), D("10.00"))
    assert totals.lines[1].promotion == "满100减10"


def test_best_price_for_the_customer_wins_and_line_promotions_never_stack():
    product = ProductFactory(selling_price=D("10.00"))
    make_promotion("8折", Kind.PERCENT_OFF, value=D("20"), products=[product])
    make_promotion("3件25元", Kind.MULTI_PRICE, value=D("25"), buy_quantity=3, products=[product])
    make_promotion(
        "特价7.5", Kind.FIXED_PRICE, value=D("7.50"), products=[product], ends_at=timezone.now() + timedelta(hours=2)
    )
    # Two: 20% off 16.00, fixed 15.00, 3-for-25 nothing -> fixed. Not 20% off the fixed price: no stacking.
    two = price((product, 2)).lines[0]
    assert (two.amount, two.promotion) == (D("15.00"), "特价7.5")


def test_multi_buy_wins_when_it_is_cheaper_for_the_basket():
    product = ProductFactory(selling_price=D("10.00"))
    make_promotion("9折", Kind.PERCENT_OFF, value=D("10"), products=[product])
    make_promotion("3件25元", Kind.MULTI_PRICE, value=D("25"), buy_quantity=3, products=[product])
    # Two: 10% off 18.00 (the group needs three). Three: 25.00 beats 27.00.
    assert price((product, 2)).lines[0].promotion == "9折"
    three = price((product, 3)).lines[0]
    assert (three.amount, three.promotion) == (D("25.00"), "3件25元")


def test_equal_prices_go_to_the_older_promotion():
    product = ProductFactory(selling_price=D("10.00"))
    make_promotion("先", Kind.AMOUNT_OFF, value=D("2"), products=[product])
    make_promotion("后", Kind.FIXED_PRICE, value=D("8"), products=[product])
    assert price((product, 1)).lines[0].promotion == "先"


def test_basket_discount_counts_promoted_lines_only_when_stackable():
    promoted = ProductFactory(selling_price=D("60.00"))
    plain = ProductFactory(selling_price=D("50.00"))
    make_promotion("9折", Kind.PERCENT_OFF, value=D("10"), products=[promoted])
    basket = make_promotion("满100减10", Kind.BASKET, value=D("10"), threshold=D("100"), scope=Scope.STORE)
    # Not stackable: only the 50.00 line counts, under 100, so only the line promotion: 54.00 + 50.00.
    totals = price((promoted, 1), (plain, 1))
    assert (totals.total, [ln.promotion for ln in totals.lines]) == (D("104.00"), ["9折", ""])
    basket.stackable = True
    basket.save()
    rules_changed()
    # Stackable: 54.00 + 50.00 = 104.00 ≥ 100; 10 × 54 / 104 = 5.19 and 4.81.
    totals = price((promoted, 1), (plain, 1))
    assert [ln.saving for ln in totals.lines] == [D("6.00") + D("5.19"), D("4.81")]
    assert totals.total == D("94.00")
    assert totals.lines[0].promotion == "9折; 满100减10"


def test_of_several_basket_discounts_the_largest_applies():
    product = ProductFactory(selling_price=D("100.00"))
    make_promotion("满100减10", Kind.BASKET, value=D("10"), threshold=D("100"), scope=Scope.STORE)
    make_promotion("满200减30", Kind.BASKET, value=D("30"), threshold=D("200"), scope=Scope.STORE)
    assert price((product, 1)).total == D("90.00")
    assert price((product, 2)).total == D("170.00")  # 30 off, not 10, and not both


def test_scopes_products_categories_with_subcategories_and_store():
    food = CategoryFactory()
    dairy = CategoryFactory(parent=food)
    milk = ProductFactory(category=dairy, selling_price=D("10.00"))
    soap = ProductFactory(selling_price=D("10.00"))
    other = ProductFactory(selling_price=D("10.00"))
    make_promotion("食品9折", Kind.PERCENT_OFF, value=D("10"), categories=[food])
    make_promotion("香皂立减3元", Kind.AMOUNT_OFF, value=D("3"), products=[soap])
    totals = price((milk, 1), (soap, 1), (other, 1))
    assert [ln.amount for ln in totals.lines] == [D("9.00"), D("7.00"), D("10.00")]
    make_promotion("全场95折", Kind.PERCENT_OFF, value=D("5"), scope=Scope.STORE)
    totals = price((milk, 1), (soap, 1), (other, 1))
    assert [ln.amount for ln in totals.lines] == [D("9.00"), D("7.00"), D("9.50")]


def test_limit_per_sale_sells_the_rest_at_the_regular_price():
    product = ProductFactory(selling_price=D("4.00"))
    make_promotion("半价限2件", Kind.PERCENT_OFF, value=D("50"), limit_per_sale=D("2"), products=[product])
    # 2 × 2.00 + 3 × 4.00 = 16.00.
    assert price((product, 5)).total == D("16.00")


def test_promotional_quantity_left_limits_the_units_and_the_till_says_why():
    product = ProductFactory(selling_price=D("4.00"))
    promo = make_promotion("半价", Kind.PERCENT_OFF, value=D("50"), quantity_limit=D("30"), products=[product])
    Promotion.objects.filter(pk=promo.pk).update(quantity_sold=D("20"))
    rules_changed()
    line = price((product, 12)).lines[0]
    # 10 left: 10 × 2.00 + 2 × 4.00 = 28.00 (and "10", not "1E+1").
    assert (line.amount, line.note) == (D("28.00"), "半价: only 10 left at the promotional price.")
    assert price((product, 12)).claims == {promo.pk: D("10")}
    Promotion.objects.filter(pk=promo.pk).update(quantity_sold=D("30"))
    rules_changed()
    line = price((product, 5)).lines[0]
    assert (line.amount, line.promotion, line.note) == (D("20.00"), "", "半价 has sold out: regular price.")
    assert price((product, 5)).claims == {}


def test_window_includes_its_start_and_excludes_its_end():
    product = ProductFactory(selling_price=D("10.00"))
    start = timezone.now() + timedelta(days=1)
    end = start + timedelta(hours=8)
    make_promotion("早市", Kind.FIXED_PRICE, value=D("8"), products=[product], starts_at=start, ends_at=end)
    tick = timedelta(microseconds=1)
    totals = {when: price((product, 1), now=when).total for when in (start - tick, start, end - tick, end)}
    assert totals == {start - tick: D("10.00"), start: D("8.00"), end - tick: D("8.00"), end: D("10.00")}


def test_inactive_and_ended_promotions_do_not_apply():
    product = ProductFactory(selling_price=D("10.00"))
    now = timezone.now()
    make_promotion("停用", Kind.FIXED_PRICE, value=D("5"), products=[product], active=False)
    make_promotion(
        "过期",
        Kind.FIXED_PRICE,
        value=D("6"),
        products=[product],
        starts_at=now - timedelta(days=2),
        ends_at=now - timedelta(seconds=1),
    )
    assert price((product, 1)).total == D("10.00")


def test_weighed_product_takes_percentage_off_per_kilogram_but_no_multi_buy():
    meat = ProductFactory(selling_price=D("12.80"), unit=Unit.KG)
    make_promotion("75折", Kind.PERCENT_OFF, value=D("25"), products=[meat])
    # 12.80 × 0.75 = 9.60 a kg; 0.750 kg -> 7.20 instead of 9.60.
    assert price((meat, D("0.750"))).total == D("7.20")
    fruit = ProductFactory(selling_price=D("5.00"), unit=Unit.KG)
    make_promotion("3公斤10元", Kind.MULTI_PRICE, value=D("10"), buy_quantity=3, products=[fruit])
    assert price((fruit, D("3.000"))).total == D("15.00")


def test_scale_label_amount_is_kept_but_counts_towards_the_basket():
    weighed = ProductFactory(selling_price=D("20.00"), unit=Unit.KG)
    plain = ProductFactory(selling_price=D("50.00"))
    make_promotion("全场8折", Kind.PERCENT_OFF, value=D("20"), scope=Scope.STORE)
    make_promotion("满100减10", Kind.BASKET, value=D("10"), threshold=D("100"), scope=Scope.STORE)
    totals = price_lines(
        [LineInput(product=weighed, quantity=D("3.100"), amount=D("62.00")), LineInput(product=plain, quantity=D("1"))]
    )
    # The label's 62.00 gets no line promotion; the 50.00 line gets 20% off (40.00): basket 102.00 but the promoted
    # line does not count for a basket discount that does not stack, so 62.00 < 100 and no basket discount.
    assert [ln.amount for ln in totals.lines] == [D("62.00"), D("40.00")]


def test_promotion_rules_are_checked_with_specific_messages():
    now = timezone.now()
    window = {"starts_at": now, "ends_at": now + timedelta(days=1)}
    cases = [
        (Promotion(name="x", kind=Kind.PERCENT_OFF, value=D("120"), **window), "value"),
        (Promotion(name="x", kind=Kind.MULTI_PRICE, value=D("10"), buy_quantity=1, **window), "buy_quantity"),
        (Promotion(name="x", kind=Kind.BUY_GET_FREE, buy_quantity=2, **window), "free_quantity"),
        (Promotion(name="x", kind=Kind.BASKET, value=D("10"), threshold=D("10"), **window), "value"),
        (Promotion(name="x", kind=Kind.AMOUNT_OFF, value=D("1"), stackable=True, **window), "stackable"),
        (Promotion(name="x", kind=Kind.FIXED_PRICE, value=D("1"), starts_at=now, ends_at=now), "ends_at"),
        (Promotion(name="x", kind=Kind.FIXED_PRICE, value=D("1"), quantity_limit=D("0"), **window), "quantity_limit"),
    ]
    for promotion, field in cases:
        with pytest.raises(ValidationError) as caught:
            promotion.full_clean()
        assert field in caught.value.message_dict, (promotion.kind, caught.value.message_dict)


def test_a_promotional_quantity_cannot_be_set_below_what_has_sold():
    # The admin shows quantity_sold read-only, so only this rule stands between the form and the check constraint.
    now = timezone.now()
    promotion = Promotion(
        name="x",
        kind=Kind.FIXED_PRICE,
        value=D("1"),
        starts_at=now,
        ends_at=now + timedelta(days=1),
        quantity_limit=D("20"),
        quantity_sold=D("30"),
    )
    with pytest.raises(ValidationError) as caught:
        promotion.full_clean()
    assert caught.value.message_dict == {
        "quantity_limit": ["30 have been sold at this promotion already: enter at least that."]
    }
    promotion.quantity_limit = D("30")
    promotion.full_clean()
