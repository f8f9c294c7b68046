"""Limits of promotions: the limit per sale shared by the products a promotion covers, the split of a saving over
lines (never below zero nor above a line's amount), and the limits the admin accepts for each kind."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.utils import timezone

from catalog.models import Product, Unit
from checkout.admin import PromotionForm
from checkout.models import Promotion, SaleLine
from checkout.pricing import shelf_amount
from checkout.promotions import PricingLine, Rule, RuleBook, _spread, discounts
from checkout.services import sale_return
from tests.checkout.promotion_helpers import fresh_rules, make_promotion, price  # noqa: F401 (autouse fixture)
from tests.factories import CategoryFactory, ProductFactory

Kind, Scope = Promotion.Kind, Promotion.Scope
D = Decimal
pytestmark = pytest.mark.django_db  # also for the tests without rows: fresh_rules announces on commit


# The limit per sale is for the sale, not for each product.


def test_category_limit_per_sale_is_shared_by_the_flavours_in_scan_order():
    yogurt = CategoryFactory()
    plain, peach, mango = ProductFactory.create_batch(3, category=yogurt, selling_price=D("6.00"))
    promo = make_promotion(
        "酸奶半价", Kind.PERCENT_OFF, value=D("50"), limit_per_sale=D("2"), quantity_limit=D("100"), categories=[yogurt]
    )
    totals = price((plain, 2), (peach, 2), (mango, 2))
    # Two units at 3.00 in the whole sale, to the flavour scanned first; the rest at 6.00: 6.00 + 12.00 + 12.00.
    assert [(ln.amount, ln.promotion) for ln in totals.lines] == [
        (D("6.00"), "酸奶半价"),
        (D("12.00"), ""),
        (D("12.00"), ""),
    ]
    assert [ln.note for ln in totals.lines] == ["", *["酸奶半价: the limit of 2 per sale is used by other items."] * 2]
    assert totals.claims == {promo.pk: D("2")}


def test_a_product_gets_what_the_others_left_of_the_limit_per_sale_and_the_till_says_why():
    cheap = ProductFactory(selling_price=D("4.00"))
    dear = ProductFactory(selling_price=D("9.00"))
    make_promotion("全场半价限3件", Kind.PERCENT_OFF, value=D("50"), limit_per_sale=D("3"), scope=Scope.STORE)
    # The first scan decides, not the price: the cheap lines (pooled, 2 units) take two, the dear one the third.
    totals = price((cheap, 1), (dear, 4), (cheap, 1))
    # cheap: 2 × 2.00 = 4.00; dear: 4.50 + 3 × 9.00 = 31.50.
    assert [ln.amount for ln in totals.lines] == [D("2.00"), D("31.50"), D("2.00")]
    assert [ln.note for ln in totals.lines] == [
        "",
        "全场半价限3件: limit 3 per sale, only 1 more at the promotional price.",
        "",
    ]


def test_when_the_limit_per_sale_is_used_another_promotion_applies():
    snacks = CategoryFactory()
    chips, nuts = ProductFactory.create_batch(2, category=snacks, selling_price=D("10.00"))
    make_promotion("零食半价限2件", Kind.PERCENT_OFF, value=D("50"), limit_per_sale=D("2"), categories=[snacks])
    make_promotion("全场9折", Kind.PERCENT_OFF, value=D("10"), scope=Scope.STORE)
    totals = price((chips, 2), (nuts, 2))
    assert [(ln.amount, ln.promotion, ln.note) for ln in totals.lines] == [
        (D("10.00"), "零食半价限2件", ""),
        (D("18.00"), "全场9折", ""),
    ]
    # One unit of the limit left: for nuts, 5.00 + 10.00 = 15.00 beats 10% off both (18.00).
    totals = price((chips, 1), (nuts, 2))
    assert [(ln.amount, ln.promotion) for ln in totals.lines] == [
        (D("5.00"), "零食半价限2件"),
        (D("15.00"), "零食半价限2件"),
    ]


def test_multi_buy_limit_per_sale_counts_the_groups_of_all_products():
    drinks = CategoryFactory()
    cola, soda = ProductFactory.create_batch(2, category=drinks, selling_price=D("3.90"))
    make_promotion(
        "3件10元限3件", Kind.MULTI_PRICE, value=D("10"), buy_quantity=3, limit_per_sale=D("3"), categories=[drinks]
    )
    totals = price((cola, 3), (soda, 3))
    assert [ln.amount for ln in totals.lines] == [D("10.00"), D("11.70")]
    assert totals.lines[1].note == "3件10元限3件: the limit of 3 per sale is used by other items."


# A saving spread over lines: in whole fen, each share between zero and the line's amount, adding up exactly.


def test_basket_discount_never_makes_a_free_gift_negative(register, shift, cashier, manager, stocked, sell):
    a, b = stocked(2, selling_price=D("49.00"))
    (c,) = stocked(1, selling_price=D("38.00"))
    (gift,) = stocked(1, selling_price=D("0.00"))
    make_promotion("满100减10", Kind.BASKET, value=D("10"), threshold=D("100"), scope=Scope.STORE)
    # 10.00 × 49 / 136 = 3.603, 3.603, × 38 / 136 = 2.794: 3.60 + 3.60 + 2.79 leaves one fen, to the 38.00 line
    # (the largest part lost to rounding), none to the gift.
    items = [(a, 1), (b, 1), (c, 1), (gift, 1)]
    assert [ln.saving for ln in price(*items).lines] == [D("3.60"), D("3.60"), D("2.80"), D("0")]
    sale = sell(register, items)
    line = SaleLine.objects.get(sale=sale, product=gift)
    assert line.amount == D("0")
    returned = sale_return(
        sale=sale,
        quantities={line.pk: D(1)},
        refund_method="cash",
        register=register,
        user=cashier,
        approved_by=manager,
    )
    assert (returned.total, returned.refunds.count()) == (D("0"), 0)  # nothing to refund, and no error


def test_basket_discount_never_charges_a_line_more_than_its_shelf_price():
    items = [ProductFactory(selling_price=D(p)) for p in ("57.00", "57.00", "57.00", "51.00")]
    bag = ProductFactory(selling_price=D("0.20"))
    make_promotion("满100减10", Kind.BASKET, value=D("10"), threshold=D("100"), scope=Scope.STORE)
    totals = price(*[(p, 1) for p in items], (bag, 1))
    # Rounded down 2.56, 2.56, 2.56, 2.29, 0.00 (9.97); the three fen left go to the largest parts lost: the bag's
    # 0.90 fen, then the first two 57.00 lines' 0.53.
    assert [ln.saving for ln in totals.lines] == [D("2.57"), D("2.57"), D("2.56"), D("2.29"), D("0.01")]
    assert totals.lines[-1].amount == D("0.19")
    assert totals.saving == D("10.00")


def test_spread_shares_stay_within_each_line_and_add_up_over_many_baskets():
    rng = random.Random(20240611)
    for _basket in range(3000):
        amounts = [
            D(rng.choice([0, rng.randint(1, 20), rng.randint(1, 100_000)])) / 100 for _line in range(rng.randint(1, 8))
        ]
        whole = sum(amounts, D(0))
        total = D(rng.randint(0, int(whole * 100))) / 100
        shares = _spread(total, amounts)
        assert sum(shares, D(0)) == total, (total, amounts, shares)
        assert all(0 <= share <= amount for share, amount in zip(shares, amounts, strict=True)), (amounts, shares)


def test_pooled_lines_of_one_product_share_its_saving_within_each_line():
    # A weighed product on several lines, each line rounded to the fen on its own, nearly free: split by weight
    # alone, a line rounded down could take more than it costs (ten lines of 0.005 kg at ¥1.00 are 0.01 each, one
    # of 0.024 kg is 0.02: by weight it would take 0.04 of the 0.12 saved when all is free).
    now = timezone.now()
    rng = random.Random(7)
    for _basket in range(1000):
        product = Product(pk=1, category_id=1, unit=Unit.KG, selling_price=D(rng.randint(100, 2000)) / 100)
        kind, value = rng.choice([(Kind.AMOUNT_OFF, D(100)), (Kind.PERCENT_OFF, D(99)), (Kind.PERCENT_OFF, D(35))])
        rule = Rule(
            pk=1,
            name="x",
            kind=kind,
            scope=Scope.STORE,
            value=value,
            group=0,
            free=0,
            threshold=None,
            stackable=False,
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=1),
            limit_per_sale=None,
            quantity_left=None,
            product_ids=frozenset(),
            category_ids=frozenset(),
        )
        quantities = [
            D(rng.choice([5, 14, 15, 24, rng.randint(5, 3000)])) / 1000 for _line in range(rng.randint(1, 12))
        ]
        lines = [PricingLine(product, q, shelf_amount(product, q), False) for q in quantities]
        off = discounts(lines, now=now, book=RuleBook(store=[rule]))
        regular = sum((ln.amount for ln in lines), D(0))
        promoted, _used = rule.amount(product.selling_price, sum(quantities, D(0)), sum(quantities, D(0)), True)
        assert sum(off.saving, D(0)) == max(regular - promoted, D(0)), (quantities, off.saving)
        assert all(0 <= s <= ln.amount for s, ln in zip(off.saving, lines, strict=True)), (quantities, off.saving)


# The limits the admin accepts, for each kind.

THREE_FOR_TEN = {"kind": Kind.MULTI_PRICE, "value": D("10"), "buy_quantity": 3}
BUY_TWO_GET_ONE = {"kind": Kind.BUY_GET_FREE, "buy_quantity": 2, "free_quantity": 1}
SPEND_100_GET_10 = {"kind": Kind.BASKET, "value": D("10"), "threshold": D("100")}
HALF_PRICE = {"kind": Kind.PERCENT_OFF, "value": D("50")}
WHOLE = "Enter a whole number for this kind of promotion."


def promotion(**fields) -> Promotion:
    now = timezone.now()
    return Promotion(name="x", starts_at=now, ends_at=now + timedelta(days=1), **fields)


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {**THREE_FOR_TEN, "limit_per_sale": D("4")},
            {"limit_per_sale": ["Limit per sale must be a multiple of 3, the size of one group."]},
        ),
        (
            {**THREE_FOR_TEN, "limit_per_sale": D("6"), "quantity_limit": D("100")},
            {"quantity_limit": ["Promotional quantity must be a multiple of 3, the size of one group."]},
        ),
        (
            {**BUY_TWO_GET_ONE, "limit_per_sale": D("2"), "quantity_limit": D("30")},
            {"limit_per_sale": ["Limit per sale must be a multiple of 3, the size of one group."]},
        ),
        (
            {**THREE_FOR_TEN, "limit_per_sale": D("4.5"), "quantity_limit": D("7.5")},
            {
                "limit_per_sale": [WHOLE],
                "quantity_limit": [WHOLE],
            },
        ),
        ({**SPEND_100_GET_10, "quantity_limit": D("2.5")}, {"quantity_limit": [WHOLE]}),
    ],
)
def test_limits_that_do_not_fit_the_kind_are_refused_on_their_field(fields, errors):
    with pytest.raises(ValidationError) as caught:
        promotion(**fields).full_clean()
    assert caught.value.message_dict == errors


@pytest.mark.parametrize(
    "fields",
    [
        {**THREE_FOR_TEN, "limit_per_sale": D("6"), "quantity_limit": D("300")},
        {**BUY_TWO_GET_ONE, "limit_per_sale": D("3"), "quantity_limit": D("99")},
        {**SPEND_100_GET_10, "quantity_limit": D("50")},
        {**HALF_PRICE, "limit_per_sale": D("1.5"), "quantity_limit": D("20.250")},  # weighed goods
    ],
)
def test_limits_that_fit_the_kind_are_accepted(fields):
    promotion(**fields).full_clean()


def test_the_admin_form_shows_a_limit_that_is_not_whole_groups_on_its_field():
    product = ProductFactory()
    now = timezone.localtime()
    data = {
        **model_to_dict(promotion(**THREE_FOR_TEN), fields=PromotionForm.Meta.fields),
        "starts_at": f"{now:%Y-%m-%d %H:%M}",
        "ends_at": f"{now + timedelta(days=1):%Y-%m-%d %H:%M}",
        "products": [product.pk],
        "limit_per_sale": "5",
    }
    form = PromotionForm(data)
    assert not form.is_valid()
    assert form.errors == {"limit_per_sale": ["Limit per sale must be a multiple of 3, the size of one group."]}


def test_a_fractional_limit_never_prices_part_of_a_piece_at_the_promotional_price():
    piece = ProductFactory(selling_price=D("4.00"))
    weighed = ProductFactory(selling_price=D("10.00"), unit=Unit.KG)
    promo = make_promotion(
        "半价限1.5", **HALF_PRICE, limit_per_sale=D("1.5"), quantity_limit=D("50"), scope=Scope.STORE
    )
    # Alone, the piece product gets one unit at 2.00 and two at 4.00 (not 1.5 units: 3.00 + 6.00); the weighed one
    # 1.5 kg at 5.00 and 0.5 kg at 10.00.
    alone = price((piece, 3))
    assert (alone.total, alone.claims) == (D("10.00"), {promo.pk: D("1")})
    assert price((weighed, "2.000")).total == D("12.50")
    # Together: the piece product takes one unit, the weighed one the 0.5 kg left: 2.50 + 15.00.
    together = price((piece, 3), (weighed, "2.000"))
    assert [ln.amount for ln in together.lines] == [D("10.00"), D("17.50")]
    assert together.lines[1].note == "半价限1.5: limit 1.5 per sale, only 0.5 more at the promotional price."
    assert together.claims == {promo.pk: D("1.5")}
