"""Promotions through a sale: what the sale records, the promotional quantity taken in its transaction, the till,
the receipt, the API and the admin."""

import json
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import gtin
from checkout.models import Promotion, Register, Sale, SaleLine
from checkout.pricing import LineInput, PaymentInput, PromotionSoldOut
from checkout.promotions import rules_changed
from checkout.services import api_token_for, sale_complete
from stock.models import StockLevel, StockMovement
from tests.checkout.promotion_helpers import fresh_rules, make_promotion, price  # noqa: F401 (autouse fixture)

Kind = Promotion.Kind
D = Decimal
pytestmark = pytest.mark.django_db


def complete(product, quantity, *, pay: Decimal, user):
    return sale_complete(
        client_token=uuid.uuid4(),
        register=Register.online_register(),
        lines=[LineInput(product=product, quantity=D(quantity))],
        payments=[PaymentInput("cash", pay)],
        user=user,
    ).sale


def test_sale_records_the_saving_and_takes_the_promotional_quantity(stocked, cashier):
    (product,) = stocked(1, selling_price=D("4.00"))
    promo = make_promotion("半价", Kind.PERCENT_OFF, value=D("50"), quantity_limit=D("10"), products=[product])
    sale = complete(product, 4, pay=D("8.00"), user=cashier)
    line = SaleLine.objects.get(sale=sale)
    assert (line.unit_price, line.amount, line.saving, line.promotion) == (D("4.00"), D("8.00"), D("8.00"), "半价")
    assert (sale.total, sale.saving) == (D("8.00"), D("8.00"))
    promo.refresh_from_db()
    assert (promo.quantity_sold, promo.quantity_left) == (D("4"), D("6"))


def test_sale_priced_with_more_than_is_left_is_refused_and_changes_nothing(
    stocked, cashier, floor, django_capture_on_commit_callbacks
):
    (product,) = stocked(1, selling_price=D("4.00"), on_hand=D(20))
    promo = make_promotion("半价", Kind.PERCENT_OFF, value=D("50"), quantity_limit=D("10"), products=[product])
    assert price((product, 4)).total == D("8.00")  # the rules are loaded with 10 left
    # Another till sold 8 meanwhile (no reload announced yet): this sale is still priced with 4 at half price.
    Promotion.objects.filter(pk=promo.pk).update(quantity_sold=D("8"))
    with pytest.raises(PromotionSoldOut) as caught:
        complete(product, 4, pay=D("8.00"), user=cashier)
    assert "半价 (2 left)" in caught.value.message
    assert not Sale.objects.exists()
    assert not StockMovement.objects.filter(kind="sale").exists()
    assert StockLevel.objects.get(product=product, location=floor).on_hand == 20
    promo.refresh_from_db()
    assert promo.quantity_sold == D("8")
    # The refusal made pricing reload: 2 at 2.00 and 2 at 4.00.
    again = price((product, 4))
    assert (again.total, again.lines[0].note) == (D("12.00"), "半价: only 2 left at the promotional price.")
    with django_capture_on_commit_callbacks(execute=True):  # the sale that sells the last unit announces it
        sale = complete(product, 4, pay=D("12.00"), user=cashier)
    promo.refresh_from_db()
    assert (sale.total, promo.quantity_sold) == (D("12.00"), D("10"))
    # Sold out: the next sale pays the regular price and says why.
    after = price((product, 1))
    assert (after.total, after.lines[0].note) == (D("4.00"), "半价 has sold out: regular price.")


def test_limited_basket_discount_counts_uses(stocked, cashier):
    (product,) = stocked(1, selling_price=D("60.00"))
    promo = make_promotion(
        "满100减10", Kind.BASKET, value=D("10"), threshold=D("100"), scope="store", quantity_limit=D("1")
    )
    complete(product, 2, pay=D("110.00"), user=cashier)
    promo.refresh_from_db()
    assert promo.quantity_sold == 1
    rules_changed()  # what the sale's commit announces (tests roll back instead of committing)
    totals = price((product, 2))
    assert (totals.total, totals.notes) == (D("120.00"), ("满100减10 has sold out: regular price.",))


def test_adding_the_third_item_reprices_the_three_at_the_till(till, stocked):
    (yogurt,) = stocked(1, selling_price=D("3.90"))
    make_promotion("3件10元", Kind.MULTI_PRICE, value=D("10.00"), buy_quantity=3, products=[yogurt])
    till("scan/", code=yogurt.barcode)
    two = till("scan/", code=yogurt.barcode).content.decode()
    assert 'id="total">7.80<' in two and "3件10元" not in two
    three = till("scan/", code=yogurt.barcode).content.decode()
    # The regular unit price, 10.00 charged for the three, the promotion and its saving named on the line.
    assert '<td class="num price">3.90</td>' in three and '<td class="num amount">10.00</td>' in three
    assert "3件10元 · saving ¥1.70" in three
    assert 'id="saving">1.70<' in three and 'id="total">10.00<' in three


def test_api_answers_409_when_the_promotion_ran_out_and_the_client_pays_the_new_total(client, stocked, cashier):
    (product,) = stocked(1, selling_price=D("4.00"))
    promo = make_promotion("半价", Kind.PERCENT_OFF, value=D("50"), quantity_limit=D("5"), products=[product])
    assert price((product, 2)).total == D("4.00")
    Promotion.objects.filter(pk=promo.pk).update(quantity_sold=D("4"))  # another till, not yet announced
    auth = {"HTTP_AUTHORIZATION": f"Token {api_token_for(cashier).key}"}

    def post(total: str):
        body = {
            "client_token": str(uuid.uuid4()),
            "lines": [{"code": product.barcode, "quantity": "2"}],
            "payments": [{"method": "card", "amount": total}],
        }
        return client.post("/api/sales", json.dumps(body), content_type="application/json", **auth)

    refused = post("4.00")
    assert refused.status_code == 409
    assert "半价 (1 left)" in refused.json()["error"]
    assert not Sale.objects.exists()
    sale = post("6.00").json()  # one at 2.00, one at 4.00
    assert (sale["total"], sale["lines"][0]["saving"]) == ("6.00", "2.00")


def test_till_refuses_payment_when_the_promotion_ran_out_and_shows_the_new_price(till, stocked):
    (product,) = stocked(1, selling_price=D("4.00"))
    promo = make_promotion("半价", Kind.PERCENT_OFF, value=D("50"), quantity_limit=D("5"), products=[product])
    till("scan/", code=product.barcode)
    Promotion.objects.filter(pk=promo.pk).update(quantity_sold=D("5"))  # sold out at another till a moment ago
    response = till("pay/", cash="2.00")
    assert response.status_code == 409
    html = response.content.decode()
    assert "A promotion ran out while this sale was being completed: 半价 (0 left)." in html
    assert "半价 has sold out: regular price." in html and 'id="total">4.00<' in html
    assert not Sale.objects.exists()
    response = till("pay/", cash="4.00")
    assert Sale.objects.get().total == D("4.00")


def test_receipt_and_api_list_the_savings(till, stocked, cashier):
    (product,) = stocked(1, selling_price=D("6.80"))
    make_promotion("特价5元", Kind.FIXED_PRICE, value=D("5.00"), products=[product])
    till("scan/", code=product.barcode)
    till("scan/", code=product.barcode)
    receipt_url = till("pay/", cash="10.00").headers["HX-Redirect"]
    receipt = till.client.get(receipt_url).content.decode()
    assert '<td colspan="3">特价5元</td><td class="num">−3.60</td>' in receipt
    assert 'id="receipt-saving">¥3.60<' in receipt
    number = Sale.objects.get().number
    body = json.loads(
        till.client.get(f"/api/sales/{number}", HTTP_AUTHORIZATION=f"Token {api_token_for(cashier).key}").content
    )
    assert body["saving"] == "3.60"
    assert (body["lines"][0]["saving"], body["lines"][0]["promotion"]) == ("3.60", "特价5元")


@pytest.mark.django_db(transaction=True)  # the admin's own transactions, as in production
def test_buyer_sets_up_a_promotion_in_the_admin_with_history(client, stocked):
    (product,) = stocked(1, selling_price=D("10.00"))
    buyer = get_user_model().objects.create_user("buyer1", password="buyer-pass-1", is_staff=True)
    buyer.user_permissions.add(*Permission.objects.filter(codename__endswith="_promotion"))
    client.force_login(buyer)
    form = {
        "name": "周末特价",
        "kind": "fixed_price",
        "active": "on",
        "starts_at_0": "2026-01-01",
        "starts_at_1": "00:00:00",
        "ends_at_0": "2099-01-01",
        "ends_at_1": "00:00:00",
        "value": "7.00",
        "scope": "products",
        "products": [],
        "quantity_limit": "100",
    }
    refused = client.post("/admin/checkout/promotion/add/", form)
    assert refused.status_code == 200
    assert "Choose at least one product, or apply the promotion to the whole store." in refused.content.decode()
    assert not Promotion.objects.exists()
    response = client.post("/admin/checkout/promotion/add/", {**form, "products": [product.pk]})
    assert response.status_code == 302, response.content.decode()[:2000]
    promo = Promotion.objects.get()
    assert price((product, 1)).total == D("7.00")
    # Sales in between: the form still shows 0 sold, and saving it must not put that back.
    Promotion.objects.filter(pk=promo.pk).update(quantity_sold=D("30"))
    client.post(f"/admin/checkout/promotion/{promo.pk}/change/", {**form, "products": [product.pk], "value": "6.50"})
    promo.refresh_from_db()
    assert (promo.value, promo.quantity_sold) == (D("6.50"), D("30"))
    values = [h.value for h in promo.history.order_by("history_date")]
    assert (values[0], values[-1]) == (D("7.00"), D("6.50"))  # (the product list is saved as a row of its own)
    assert all(h.history_user == buyer for h in promo.history.all())
    history = client.get(f"/admin/checkout/promotion/{promo.pk}/history/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert history.status_code == 200
    assert "促销数量" in history.content.decode() and "quantity_limit" not in history.content.decode()

    # Reverting to the first version validates and saves holding the row, as the change form does: a sale
    # cannot claim units between the check against what has sold and the save.
    first = promo.history.order_by("history_id").first()
    revert = f"/admin/checkout/promotion/{promo.pk}/history/{first.history_id}/"
    with CaptureQueriesContext(connection) as queries:
        response = client.post(revert, {**form, "products": [product.pk], "quantity_limit": "20"})
    assert "30 have been sold at this promotion already" in response.content.decode()
    assert any("FOR UPDATE" in q["sql"] and Promotion._meta.db_table in q["sql"] for q in queries.captured_queries)
    client.post(revert, {**form, "products": [product.pk]})
    promo.refresh_from_db()
    assert (promo.value, promo.quantity_limit, promo.quantity_sold) == (D("7.00"), D("100"), D("30"))


def test_a_weight_label_takes_the_per_kilogram_promotion_and_a_price_label_keeps_its_price(till, stocked, register):
    (pork,) = stocked(1, on_hand=Decimal(20), store_code="00042", unit="kg", selling_price=Decimal("20.00"))
    make_promotion("猪肉8折", Promotion.Kind.PERCENT_OFF, value=Decimal("20"), products=[pork])
    till("scan/", code=gtin.with_check_digit("23" + "00042" + "00500"))  # 0.500 kg: ¥10.00, 20 % off
    response = till("scan/", code=gtin.with_check_digit("20" + "00042" + "00600"))  # the scale's own ¥6.00
    assert b'<dd id="total">14.00</dd>' in response.content
    till("pay/", cash="14")
    assert [line.amount for line in Sale.objects.get().lines.order_by("position")] == [Decimal("8.00"), Decimal("6.00")]
