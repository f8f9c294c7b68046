"""A price that changes while a basket is open (a promotion ends, a shelf price is changed in the admin) is never
charged silently: the till and the API refuse a payment for another total than the one the customer was shown."""

import json
import re
import uuid
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from catalog.services import product_update
from checkout import promotions
from checkout.models import Promotion, Sale
from checkout.services import api_token_for
from stock.models import StockLevel, StockMovement
from tests.checkout.promotion_helpers import fresh_rules, make_promotion  # noqa: F401 (autouse fixture)

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def half_price(stocked):
    """A ¥20 product at 50 % off (a limited promotion, so a claim would show), ten on the floor."""
    (product,) = stocked(1, on_hand=D(10), selling_price=D("20.00"))
    promotion = make_promotion(
        "半价", Promotion.Kind.PERCENT_OFF, value=D("50"), quantity_limit=D("100"), products=[product]
    )
    return product, promotion


def shown_total(html: str) -> str:
    """The total the pay panel sends: what the cashier's screen shows."""
    return re.search(r'<input type="hidden" name="shown_total" value="([^"]*)">', html).group(1)


def message(html: str) -> str:
    return re.search(r'<p id="till-message"[^>]*>([^<]*)</p>', html).group(1)


def on_hand(product) -> Decimal:
    return StockLevel.objects.get(product=product).on_hand


def scanned_and_shown(till, product) -> str:
    """Scan the product and open the till page: the total its pay panel carries."""
    till("scan/", code=product.barcode)
    return shown_total(till.client.get("/checkout/").content.decode())


@pytest.fixture(params=["unticked", "over"])
def end_promotion(request, monkeypatch, django_capture_on_commit_callbacks):
    """end_promotion(promotion): a manager unticks "active" (announced on commit, as after the admin's save), or the
    promotion's end passes (at midnight, say)."""

    def end(promotion):
        if request.param == "unticked":
            with django_capture_on_commit_callbacks(execute=True):
                promotion.active = False
                promotion.save()
        else:
            later = promotion.ends_at + timedelta(seconds=1)
            monkeypatch.setattr(promotions, "timezone", SimpleNamespace(now=lambda: later))

    return end


def test_cash_paid_after_the_promotion_ended_is_refused_then_the_new_total_is_paid(till, half_price, end_promotion):
    product, promotion = half_price
    shown = scanned_and_shown(till, product)
    assert shown == "10.00"
    end_promotion(promotion)

    refused = till("pay/", cash="50", shown_total=shown)
    assert refused.status_code == 409
    html = refused.content.decode()
    assert message(html) == (
        "Prices changed since the basket was shown: new total ¥20.00 (was ¥10.00). "
        "Check it with the customer, then pay again."
    )
    assert 'id="total">20.00<' in html and 'id="pay-total">20.00<' in html and "半价" not in html
    assert not Sale.objects.exists()
    assert on_hand(product) == 10

    paid = till("pay/", cash="50", shown_total=shown_total(html))  # the panel as it came back
    sale = Sale.objects.get()
    assert paid.headers["HX-Redirect"] == f"/checkout/sales/{sale.number}/receipt/"
    assert (sale.total, sale.change) == (D("20.00"), D("30.00"))
    assert on_hand(product) == 9


def test_a_shelf_price_raised_in_the_admin_mid_basket_is_refused_and_takes_no_promotional_quantity(
    till, half_price, django_capture_on_commit_callbacks
):
    product, promotion = half_price
    shown = scanned_and_shown(till, product)
    with django_capture_on_commit_callbacks(execute=True):
        product_update(product=product, selling_price=D("30.00"))

    refused = till("pay/", card="10.00", shown_total=shown)  # an exact card payment
    assert refused.status_code == 409
    html = refused.content.decode()
    assert "new total ¥15.00 (was ¥10.00)" in message(html)
    assert '<td class="num price">30.00</td>' in html and shown_total(html) == "15.00"
    assert not Sale.objects.exists() and not StockMovement.objects.filter(kind="sale").exists()
    assert on_hand(product) == 10
    promotion.refresh_from_db()
    assert promotion.quantity_sold == 0


def test_an_unchanged_basket_pays_the_total_its_page_showed(till, half_price):
    product, promotion = half_price
    shown = scanned_and_shown(till, product)
    paid = till("pay/", cash="50", shown_total=shown)
    sale = Sale.objects.get()
    assert paid.headers["HX-Redirect"] == f"/checkout/sales/{sale.number}/receipt/"
    assert (sale.total, sale.change) == (D("10.00"), D("40.00"))
    promotion.refresh_from_db()
    assert promotion.quantity_sold == 1
    assert on_hand(product) == 9


def test_a_pay_form_without_the_shown_total_is_refused_and_comes_back_with_it(till, half_price):
    # A page opened before the field existed: what the customer saw is not known.
    product, _promotion = half_price
    till("scan/", code=product.barcode)
    refused = till.client.post("/checkout/pay/", {"cash": "50"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 422
    html = refused.content.decode()
    assert "Prices may have changed since the basket was shown" in message(html)
    assert not Sale.objects.exists()
    assert till("pay/", cash="50", shown_total=shown_total(html)).headers["HX-Redirect"]
    assert Sale.objects.get().total == D("10.00")


def test_after_a_promotion_sold_out_the_panel_pays_the_new_total(till, half_price):
    product, promotion = half_price
    shown = scanned_and_shown(till, product)
    Promotion.objects.filter(pk=promotion.pk).update(quantity_sold=D("100"))  # another till, not yet announced
    refused = till("pay/", cash="50", shown_total=shown)
    assert refused.status_code == 409
    html = refused.content.decode()
    assert "A promotion ran out" in message(html) and shown_total(html) == "20.00"
    till("pay/", cash="50", shown_total=shown_total(html))
    assert Sale.objects.get().total == D("20.00")


@pytest.fixture
def post_sale(client, cashier):
    auth = {"HTTP_AUTHORIZATION": f"Token {api_token_for(cashier).key}"}

    def post(product, **extra):
        body = {
            "client_token": str(uuid.uuid4()),
            "lines": [{"code": product.barcode}],
            "payments": [{"method": "cash", "amount": "50.00"}],
            **extra,
        }
        return client.post("/api/sales", json.dumps(body), content_type="application/json", **auth)

    return post


def test_api_sale_for_another_total_than_expected_is_409_and_writes_nothing(post_sale, half_price, end_promotion):
    product, promotion = half_price
    end_promotion(promotion)
    movements = StockMovement.objects.count()

    refused = post_sale(product, expected_total="10.00")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "Prices changed since the basket was shown: new total ¥20.00 (was ¥10.00). "
        "Check it with the customer, then pay again.",
        "field": "expected_total",
        "total": "20.00",
    }
    assert not Sale.objects.exists() and StockMovement.objects.count() == movements
    assert on_hand(product) == 10

    assert post_sale(product, expected_total="20.00").status_code == 201
    malformed = post_sale(product, expected_total="ten")
    assert (malformed.status_code, malformed.json()["field"]) == (400, "expected_total")


def test_api_sale_without_expected_total_is_charged_at_the_prices_now_as_documented(
    post_sale, half_price, end_promotion, client
):
    product, promotion = half_price
    end_promotion(promotion)
    created = post_sale(product)
    assert created.status_code == 201
    assert (created.json()["total"], created.json()["change"]) == ("20.00", "30.00")
    request = client.get("/api/openapi.json").json()["paths"]["/sales"]["post"]["requestBody"]
    schema = request["content"]["application/json"]["schema"]
    assert "expected_total" in schema["properties"] and "expected_total" not in schema["required"]


def test_a_retry_after_the_price_changed_returns_the_first_sale(post_sale, half_price, end_promotion):
    # The network lost the answer and the client sends the sale again after the promotion ended: the sale the
    # customer paid stands, not a refusal for a price it was not sold at, and nothing is sold twice.
    product, promotion = half_price
    token = str(uuid.uuid4())
    first = post_sale(product, client_token=token, expected_total="10.00")
    assert first.status_code == 201
    end_promotion(promotion)

    again = post_sale(product, client_token=token, expected_total="10.00")
    assert again.status_code == 200
    assert (again.json()["number"], again.json()["total"]) == (first.json()["number"], "10.00")
    assert Sale.objects.count() == 1
    assert on_hand(product) == 9
