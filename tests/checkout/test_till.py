import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog import gtin
from checkout.models import Cart, CartLine, Register, Sale
from checkout.pricing import CheckoutError
from checkout.services import shift_close
from stock.models import Lot, MovementKind, StockLevel
from stock.services import Move, stock_move_batch
from tests.factories import ProductBarcodeFactory, ProductFactory

pytestmark = pytest.mark.django_db


def lines(response) -> list[tuple[str, str]]:
    """(name, quantity) of each basket line in a fragment."""
    html = response.content.decode()
    return re.findall(
        r'<td class="name">([^<]+?)(?: <small>.*?</small>)?</td>.*?<td class="num qty">([^<]+)</td>', html, re.S
    )


def cart_quantities(register) -> dict[str, Decimal]:
    return {
        line.product.name: line.quantity
        for line in CartLine.objects.filter(cart__register=register, cart__status="open").select_related("product")
    }


def test_till_needs_login_and_a_register(client, cashier, register, shift):
    assert client.get("/checkout/").url.startswith("/checkout/login/")
    client.force_login(cashier)
    assert client.get("/checkout/").url == "/checkout/register/"
    client.post("/checkout/register/", {"register": register.pk})
    page = client.get("/checkout/")
    assert page.status_code == 200
    assert b'id="scan"' in page.content


def test_till_without_an_open_shift_asks_for_a_float(client, cashier, register):
    client.force_login(cashier)
    client.post("/checkout/register/", {"register": register.pk})
    assert b'id="shift-open"' in client.get("/checkout/").content
    client.post("/checkout/shift/open/", {"opening_float": "150.00"})
    assert register.shifts.get().opening_float == Decimal("150.00")
    assert b'id="scan"' in client.get("/checkout/").content


def test_scanning_the_same_product_again_increments_its_line(till, stocked, register):
    milk, bread = stocked(2)
    till("scan/", code=milk.barcode)
    till("scan/", code=bread.barcode)
    response = till("scan/", code=milk.barcode)
    assert response.status_code == 200
    assert lines(response) == [(milk.name, "2"), (bread.name, "1")]
    assert b'<dd id="total">13.50</dd>' in response.content


def test_empty_enter_after_a_scan_adds_nothing(till, stocked, register):
    # Regression: a scanner's trailing Enter (or a second Enter) must not repeat the last product.
    (milk,) = stocked(1)
    till("scan/", code=milk.barcode)
    response = till("scan/", code="")
    till("scan/", code="   ")
    assert response.status_code == 200
    assert cart_quantities(register) == {milk.name: 1}


def test_scan_shows_on_hand_after_this_sale_from_the_database(till, stocked, register, floor, cashier, sell):
    (milk,) = stocked(1, on_hand=Decimal(10))
    till("scan/", code=milk.barcode)
    # Another till sells three a moment later: the next render must show it.
    other = Register.objects.create(code="T02", name="2", location=floor)
    from checkout.services import shift_open

    shift_open(register=other, opening_float=Decimal(0), user=cashier)
    sell(other, [(milk, 3)])
    response = till("scan/", code=milk.barcode)
    assert re.search(rb'class="num on-hand">5<', response.content)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("6901234567891", b"Wrong check digit"),
        (gtin.with_check_digit("690999999999"), b"No product has the code"),
        ("zz-no-such-item", b"Nothing matches"),
    ],
)
def test_bad_codes_give_a_message_and_change_nothing(till, stocked, register, code, message):
    (milk,) = stocked(1)
    till("scan/", code=milk.barcode)
    response = till("scan/", code=code)
    assert response.status_code == 422
    assert b'data-state="error"' in response.content
    assert message in response.content
    assert cart_quantities(register) == {milk.name: 1}


def test_inactive_product_is_refused(till, stocked, register):
    (old,) = stocked(1, active=False)
    response = till("scan/", code=old.barcode)
    assert response.status_code == 422
    assert b"inactive" in response.content
    assert cart_quantities(register) == {}


def test_scanning_more_than_on_hand_is_refused(till, stocked, register):
    (milk,) = stocked(1, on_hand=Decimal(2))
    till("scan/", code=milk.barcode)
    till("scan/", code=milk.barcode)
    response = till("scan/", code=milk.barcode)
    assert response.status_code == 422
    assert b"2 left, 3 requested" in response.content
    assert cart_quantities(register) == {milk.name: 2}


def test_pack_barcode_adds_the_pack_quantity(till, stocked, register):
    (water,) = stocked(1, on_hand=Decimal(24))
    pack = ProductBarcodeFactory(product=water, pack_quantity=6)
    till("scan/", code=pack.barcode)
    till("scan/", code=water.barcode)
    assert cart_quantities(register) == {water.name: 7}


def test_scale_labels_sell_the_weight_and_price_on_the_label(till, stocked, register):
    (apples,) = stocked(1, on_hand=Decimal(20), store_code="00042", unit="kg", selling_price=Decimal("12.00"))
    weighed = gtin.with_check_digit("23" + "00042" + "00750")  # 0.750 kg
    priced = gtin.with_check_digit("20" + "00042" + "00600")  # 6.00 yuan
    till("scan/", code=weighed)
    response = till("scan/", code=priced)
    assert lines(response) == [(apples.name, "0.75"), (apples.name, "0.5")]
    assert b'<dd id="total">15.00</dd>' in response.content


def test_a_weight_label_on_goods_sold_by_the_piece_is_refused_at_the_scan(till, stocked, register):
    stocked(1, on_hand=Decimal(20), store_code="12345", selling_price=Decimal("10.00"))  # sold by the piece
    response = till("scan/", code=gtin.with_check_digit("23" + "12345" + "00532"))
    assert response.status_code == 422
    assert b"whole number" in response.content
    assert not CartLine.objects.exists()


def test_cash_that_would_give_a_hundred_yuan_change_is_refused_as_a_slip(till, stocked, register):
    (milk,) = stocked(1, on_hand=Decimal(5), selling_price=Decimal("4.50"))
    till("scan/", code=milk.barcode)
    response = till("pay/", cash="69012341")  # an EAN-8 scanned into the open cash field
    assert response.status_code == 409
    assert b"check the amount tendered" in response.content
    assert Sale.objects.count() == 0
    till("pay/", cash="104.49")  # ¥99.99 change: a ¥100 note and some coins
    assert Sale.objects.get().change == Decimal("99.99")


def test_a_scale_label_with_no_weight_or_a_price_below_a_grams_worth_is_refused_at_the_scan(till, stocked, register):
    stocked(1, on_hand=Decimal(20), store_code="00042", unit="kg", selling_price=Decimal("39.80"))
    for label in ("23" + "00042" + "00000", "20" + "00042" + "00001"):  # an empty pan; ¥0.01 is 0.0003 kg
        response = till("scan/", code=gtin.with_check_digit(label))
        assert response.status_code == 422
        assert b"carries no weight or amount" in response.content
    assert not CartLine.objects.exists()


def test_search_by_name_lists_matches_and_a_single_match_is_added(till, stocked, register):
    tea, coffee = stocked(2)
    tea.name, coffee.name = "龙井茶 250g", "速溶咖啡 100g"
    tea.save()
    coffee.save()
    response = till("scan/", code="龙井")
    assert cart_quantities(register) == {"龙井茶 250g": 1}
    ProductFactory(name="龙井茶 500g")
    response = till("scan/", code="龙井")
    assert b'data-action="add"' in response.content
    assert cart_quantities(register) == {"龙井茶 250g": 1}


def test_quantity_void_hold_recall_and_cancel(till, stocked, register):
    milk, bread = stocked(2)
    till("scan/", code=milk.barcode)
    till("scan/", code=bread.barcode)
    milk_line = CartLine.objects.get(product=milk)
    till("line/quantity/", line=milk_line.pk, quantity="4")
    assert cart_quantities(register) == {milk.name: 4, bread.name: 1}
    response = till("line/quantity/", line=milk_line.pk, quantity="1.5")
    assert response.status_code == 422 and b"whole number" in response.content
    till("line/void/", line=CartLine.objects.get(product=bread).pk)
    assert cart_quantities(register) == {milk.name: 4}

    till("hold/")
    assert cart_quantities(register) == {}
    till("scan/", code=bread.barcode)
    held = Cart.objects.get(status="held")
    till("recall/", cart=held.pk)
    assert cart_quantities(register) == {milk.name: 4}
    assert Cart.objects.get(status="held").lines.get().product == bread

    till("cancel/")
    assert cart_quantities(register) == {}


@pytest.mark.parametrize(
    ("path", "data"), [("add/", {"product": ""}), ("add/", {"product": "abc"}), ("recall/", {"cart": "²"})]
)
def test_a_tampered_item_or_held_sale_id_is_refused_and_changes_nothing(till, stocked, register, path, data):
    (milk,) = stocked(1)
    till("scan/", code=milk.barcode)
    response = till(path, **data)
    assert response.status_code == 422
    assert cart_quantities(register) == {milk.name: 1}


def test_a_weight_too_small_to_cost_a_fen_is_refused_when_typed(till, stocked, register):
    (fish,) = stocked(1, unit="kg", selling_price=Decimal("4.79"))
    till("scan/", code=fish.barcode)
    response = till("line/quantity/", line=CartLine.objects.get(product=fish).pk, quantity="0.001")
    assert response.status_code == 422 and "less than ¥0.01" in response.content.decode()
    assert cart_quantities(register) == {fish.name: 1}


def test_a_nul_character_in_a_scan_or_a_sale_number_is_refused_and_changes_nothing(till, stocked, register):
    (milk,) = stocked(1)
    till("scan/", code=milk.barcode)
    response = till("scan/", code=f"{milk.barcode}\x00")
    assert response.status_code == 400
    assert "code holds a NUL character" in response.content.decode()
    assert cart_quantities(register) == {milk.name: 1}
    assert till.client.get("/checkout/sales/T01%00/receipt/").status_code == 400
    assert till.client.get("/checkout/returns/", {"number": "T01\x00"}).status_code == 400


def test_pay_cash_redirects_to_the_receipt_with_change(till, stocked, register, floor):
    (milk,) = stocked(1, on_hand=Decimal(10))
    till("scan/", code=milk.barcode)
    till("scan/", code=milk.barcode)
    response = till("pay/", cash="20.00")
    assert response.status_code == 200
    sale = Sale.objects.get()
    assert response.headers["HX-Redirect"] == f"/checkout/sales/{sale.number}/receipt/"
    receipt = till.client.get(response.headers["HX-Redirect"])
    assert b"11.00" in receipt.content  # change from 20.00 for 9.00
    assert sale.number.encode() in receipt.content
    assert StockLevel.objects.get(product=milk, location=floor).on_hand == 8
    assert cart_quantities(register) == {}


def test_paying_twice_from_the_same_cart_is_one_sale(till, stocked, register, floor):
    (milk,) = stocked(1, on_hand=Decimal(10))
    till("scan/", code=milk.barcode)
    token = Cart.objects.get(status="open").token
    first = till("pay/", cash="5", token=token)
    # A double click or a retry after a timeout posts the same form again.
    again = till("pay/", cash="5", token=token)
    assert again.headers["HX-Redirect"] == first.headers["HX-Redirect"]
    assert Sale.objects.count() == 1
    assert StockLevel.objects.get(product=milk, location=floor).on_hand == 9


def test_pay_short_keeps_the_cart_and_says_why(till, stocked, register):
    (milk,) = stocked(1)
    scanned = till("scan/", code=milk.barcode)
    assert b'id="pay-panel"' not in scanned.content  # a scan answers with the basket alone
    response = till("pay/", cash="1.00")
    assert response.status_code == 409
    assert b"do not cover" in response.content
    # The basket, then the panel again, open, with the cash typed and the cart's token.
    html = response.content.decode()
    panel = html[html.index('<form id="pay-panel"') :]
    assert html.index('<section id="basket"') < html.index('<form id="pay-panel"')
    assert " hidden" not in panel[: panel.index(">")]
    assert 'id="pay-cash" inputmode="decimal" value="1.00"' in panel
    assert f'name="token" value="{Cart.objects.get(status="open").token}"' in panel
    assert Sale.objects.count() == 0
    assert cart_quantities(register) == {milk.name: 1}


def test_a_malformed_amount_says_why_above_the_basket_and_beside_its_field(till, stocked):
    (milk,) = stocked(1)
    till("scan/", code=milk.barcode)
    response = till("pay/", cash="12.345")
    assert response.status_code == 422
    html = response.content.decode()
    message = re.search(r'<p id="till-message"[^>]*>([^<]*)</p>', html).group(1)
    assert "no more than 2 decimal places" in message
    panel = html[html.index('<form id="pay-panel"') :]
    assert "no more than 2 decimal places" in panel
    assert Sale.objects.count() == 0


def test_a_payment_typed_for_another_basket_is_refused_with_the_open_one_shown(till, stocked, register):
    milk, bread = stocked(2)
    till("scan/", code=milk.barcode)
    shown = Cart.objects.get(status="open").token
    till("hold/")  # a hold got in before the payment
    till("scan/", code=bread.barcode)
    response = till("pay/", cash="50", token=shown)
    assert response.status_code == 409
    assert b"The sale on screen changed" in response.content
    assert Sale.objects.count() == 0
    html = response.content.decode()
    assert f'name="token" value="{Cart.objects.get(status="open").token}"' in html  # the panel, for the open cart
    assert till("pay/", cash="50", token=Cart.objects.get(status="open").token).headers["HX-Redirect"]
    assert Sale.objects.get().lines.get().product == bread


def test_wallet_payment_needs_its_reference(till, stocked):
    (milk,) = stocked(1)
    till("scan/", code=milk.barcode)
    response = till("pay/", wechat="4.50")
    assert response.status_code == 422
    assert b"transaction reference" in response.content
    till("pay/", wechat="4.50", wechat_reference="WX123")
    assert Sale.objects.get().payments.get().reference == "WX123"


def test_a_shift_does_not_close_on_a_sale_in_progress(till, stocked, shift, cashier):
    (milk,) = stocked(1, on_hand=Decimal(5))
    till("scan/", code=milk.barcode)
    with pytest.raises(CheckoutError, match="sale is in progress"):
        shift_close(shift=shift, counted_cash=Decimal("200"), user=cashier)
    page = till.client.post("/checkout/shift/close/", {"shift": shift.pk, "counted_cash": "200.00"})
    assert page.status_code == 422
    assert b"sale is in progress" in page.content
    shift.refresh_from_db()
    assert shift.closed_at is None
    till("pay/", cash="10")
    assert Sale.objects.get().shift == shift


def test_tab_opened_before_the_shift_closed_cannot_sell(till, stocked, shift, cashier):
    (milk,) = stocked(1, on_hand=Decimal(5))
    till("scan/", code=milk.barcode)
    till("line/void/", line=CartLine.objects.get().pk)
    shift_close(shift=shift, counted_cash=Decimal("200"), user=cashier)
    for action, data in (("scan/", {"code": milk.barcode}), ("pay/", {"cash": "10"})):
        response = till(action, **data)
        assert response.headers["HX-Redirect"] == "/checkout/"  # the till page, which offers to open a shift
    assert not CartLine.objects.exists()
    assert Sale.objects.count() == 0


def test_expired_stock_is_refused_at_the_till_until_a_manager_approves(till, register, floor, manager):
    product = ProductFactory(lot_tracked=True)
    lot = Lot.objects.create(product=product, code="L1", expiry_date=timezone.localdate() - timedelta(days=1))
    stock_move_batch(moves=[Move(product, floor, Decimal(2), lot)], kind=MovementKind.RECEIPT)
    till("scan/", code=product.barcode)
    response = till("pay/", cash="10")
    assert response.status_code == 409
    assert b"expired" in response.content
    assert b'id="manager-username"' in response.content
    response = till("pay/", cash="10", manager_username="manager1", manager_password="wrong")
    assert response.status_code == 422
    assert Sale.objects.count() == 0
    response = till("pay/", cash="10", manager_username="manager1", manager_password="manager-pass-1")
    assert "HX-Redirect" in response.headers
    assert Sale.objects.get().approved_by == manager
    assert StockLevel.objects.get(product=product, lot=lot).on_hand == 1


def test_selling_one_product_past_its_stock_does_not_let_another_ones_expired_stock_through(
    till, register, floor, manager, stocked
):
    (gone,) = stocked(1, on_hand=Decimal(0), selling_price=Decimal("5.00"))
    dated = ProductFactory(lot_tracked=True, selling_price=Decimal("8.00"))
    lot = Lot.objects.create(product=dated, code="OLD", expiry_date=timezone.localdate() - timedelta(days=3))
    stock_move_batch(moves=[Move(dated, floor, Decimal(5), lot)], kind=MovementKind.RECEIPT)
    till("scan/", code=dated.barcode)
    approval = {"manager_username": "manager1", "manager_password": "manager-pass-1"}
    till.client.post(
        "/checkout/override/", {"kind": "stock_limit", "code": gone.barcode, "token": uuid.uuid4(), **approval}
    )
    assert CartLine.objects.filter(product=gone).exists()

    response = till("pay/", cash="13")
    assert response.status_code == 409
    assert b"expired" in response.content
    assert Sale.objects.count() == 0
    assert StockLevel.objects.get(product=dated, lot=lot).on_hand == 5


def test_till_links_the_last_receipt_for_a_reprint(till, stocked, register):
    (milk,) = stocked(1)
    till("scan/", code=milk.barcode)
    till("pay/", cash="5")
    number = Sale.objects.get().number
    page = till.client.get("/checkout/")
    assert f'href="/checkout/sales/{number}/receipt/" id="last-receipt"'.encode() in page.content
    assert till.client.get(f"/checkout/sales/{number}/receipt/").status_code == 200


def test_the_reprint_link_is_the_cashiers_own_last_sale_unless_they_may_open_any(
    till, stocked, register, manager, sell
):
    from django.contrib.auth import get_user_model

    from checkout.selectors import last_sale_number
    from supermarket.roles import CASHIER, user_set_role

    (milk,) = stocked(1)
    till("scan/", code=milk.barcode)
    till("pay/", cash="5")
    mine = Sale.objects.get().number
    colleague = get_user_model().objects.create_user("cashier2")
    user_set_role(user=colleague, role=CASHIER)
    theirs = sell(register, [(milk, 1)], user=colleague).number
    page = till.client.get("/checkout/").content.decode()
    assert f'href="/checkout/sales/{mine}/receipt/" id="last-receipt"' in page  # not the colleague's, a 403
    assert manager.has_perm("checkout.view_sale")
    assert last_sale_number(register, manager) == theirs


def test_a_scan_reads_and_writes_in_three_queries_however_long_the_basket(till, stocked, register):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    products = stocked(12)
    for product in products:
        till("scan/", code=product.barcode)  # each product looked up once, then served from the worker's cache
    for product in (products[0], products[-1]):
        with CaptureQueriesContext(connection) as captured:
            response = till("scan/", code=product.barcode)
        assert response.status_code == 200
        # The register's carts, the add (one statement), the basket's lines with their on-hand; the session, its user
        # and the products come from the worker's caches. The session's once-a-minute renewal is left out, as it may
        # fall on any request.
        queries = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith('UPDATE "django_session"')]
        # SQLite (the embedded demo) takes two statements for the add.
        assert len(queries) == (3 if connection.vendor == "postgresql" else 4), queries
    assert len(lines(response)) == 12
    assert cart_quantities(register)[products[-1].name] == 2


def test_register_taken_out_of_use_stops_its_till_at_the_next_scan(till, stocked, register):
    (milk,) = stocked(1)
    assert till("scan/", code=milk.barcode).status_code == 200
    register.active = False
    register.save()
    response = till("scan/", code=milk.barcode)
    assert response.headers["HX-Redirect"] == "/checkout/register/"
    assert cart_quantities(register) == {milk.name: 1}
