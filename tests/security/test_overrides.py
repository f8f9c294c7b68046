"""Manager overrides at the till: each needs a manager there and then, and each is recorded and reported."""

import uuid
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from catalog.selectors import product_lookup
from checkout.models import Cart, CartLine, Return, Sale
from checkout.overrides import cart_add_past_stock, cart_price_override, sale_void
from checkout.pricing import CheckoutError, LineInput, PaymentInput
from checkout.selectors import open_shift, shift_report
from checkout.services import cart_checkout, cart_start, sale_complete, shift_open
from stock.models import MovementKind, StockLevel
from stock.services import InsufficientStock, Move, stock_move_batch
from supermarket.models import ManagerOverride, OverrideKind
from supermarket.overrides import OverrideRefused
from supermarket.roles import BUYER, CASHIER, MANAGER
from tests.factories import ProductFactory
from tests.security.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def till(users, register):
    if open_shift(register) is None:
        shift_open(register=register, opening_float=Decimal("50.00"), user=users[CASHIER])
    client = Client()
    client.force_login(users[CASHIER])
    client.post(reverse("checkout:register-choose"), {"register": register.pk})
    return client


def manager_approval(**data) -> dict:
    return {"manager_username": "manager", "manager_password": PASSWORD, "token": str(uuid.uuid4()), **data}


def test_voiding_a_completed_sale_needs_a_manager_and_is_recorded(till, users, store):
    sale = store["sale"]
    assert reverse("checkout:override") in till.get(reverse("checkout:till")).content.decode()
    on_hand = StockLevel.objects.get(product=store["product"], location=sale.location).on_hand
    refused = till.post(
        reverse("checkout:override"),
        {"kind": OverrideKind.VOID_SALE, "number": sale.number, "token": str(uuid.uuid4())},
    )
    assert refused.status_code == 422
    assert "A manager must approve this" in refused.content.decode()
    assert Return.objects.filter(sale=sale).count() == 1  # only the fixture's partial return
    wrong = till.post(
        reverse("checkout:override"),
        {
            "kind": OverrideKind.VOID_SALE,
            "number": sale.number,
            "manager_username": "manager",
            "manager_password": "no",
        },
    )
    assert "Wrong manager name or password" in wrong.content.decode()

    done = till.post(reverse("checkout:override"), manager_approval(kind=OverrideKind.VOID_SALE, number=sale.number))
    assert done.status_code == 200
    void = Return.objects.filter(sale=sale).latest("pk")
    assert void.lines.get().quantity == 1  # what was left after the earlier return
    receipt = till.get(reverse("checkout:receipt", args=[sale.number])).content.decode()
    assert "This sale has been returned in full." in receipt and "Part of this sale" not in receipt
    assert StockLevel.objects.get(product=store["product"], location=sale.location).on_hand == on_hand + 1
    record = ManagerOverride.objects.get(kind=OverrideKind.VOID_SALE)
    assert (record.requested_by, record.approved_by, record.reference) == (users[CASHIER], users[MANAGER], sale.number)
    assert record.amount == void.total
    with pytest.raises(CheckoutError, match="already been returned in full"):
        sale_void(sale=sale, register=store["sale"].register, user=users[CASHIER], approved_by=users[MANAGER])


def test_a_void_refunds_each_method_what_it_paid_and_the_drawer_only_its_cash(users, register, floor):
    product = ProductFactory(selling_price=Decimal("25.00"))
    stock_move_batch(moves=[Move(product, floor, Decimal(10))], kind=MovementKind.RECEIPT)
    shift = open_shift(register) or shift_open(register=register, opening_float=Decimal("100.00"), user=users[CASHIER])
    before = shift_report(shift).expected_cash
    sale = sale_complete(
        client_token=uuid.uuid4(),
        register=register,
        lines=[LineInput(product=product, quantity=Decimal(4))],
        payments=[PaymentInput("cash", Decimal("50.00")), PaymentInput("card", Decimal("80.00"))],
        user=users[CASHIER],
    ).sale
    assert sale.change == Decimal("30.00")  # ¥20 of the drawer's cash went into the sale
    void = sale_void(sale=sale, register=register, user=users[CASHIER], approved_by=users[MANAGER])
    assert sorted(void.refunds.values_list("method", "amount")) == [
        ("card", Decimal("80.00")),
        ("cash", Decimal("20.00")),
    ]
    assert shift_report(shift).expected_cash == before


def test_a_void_of_a_sale_given_away_refunds_nothing(users, register, floor):
    product = ProductFactory(selling_price=Decimal("0.00"))
    stock_move_batch(moves=[Move(product, floor, Decimal(1))], kind=MovementKind.RECEIPT)
    open_shift(register) or shift_open(register=register, opening_float=Decimal("100.00"), user=users[CASHIER])
    sale = sale_complete(
        client_token=uuid.uuid4(),
        register=register,
        lines=[LineInput(product=product, quantity=Decimal(1))],
        payments=[],
        user=users[CASHIER],
    ).sale
    void = sale_void(sale=sale, register=register, user=users[CASHIER], approved_by=users[MANAGER])
    assert (void.total, void.refunds.count()) == (0, 0)
    assert StockLevel.objects.get(product=product, location=floor).on_hand == 1


def test_a_manager_locked_out_by_wrong_passwords_is_told_so_on_the_till(till, store):
    sale = store["sale"]
    wrong = {
        "kind": OverrideKind.VOID_SALE,
        "number": sale.number,
        "manager_username": "manager",
        "token": uuid.uuid4(),
    }
    answers = [
        till.post(reverse("checkout:override"), {**wrong, "manager_password": f"no{i}"}, HTTP_HX_REQUEST="true")
        for i in range(settings.AXES_FAILURE_LIMIT + 1)
    ]
    assert [a.status_code for a in answers] == [422] * len(answers)
    assert "Wrong manager name or password" in answers[0].content.decode()
    assert "Too many wrong passwords for manager: wait 15 minutes" in answers[-1].content.decode()
    right = till.post(reverse("checkout:override"), manager_approval(kind=OverrideKind.VOID_SALE, number=sale.number))
    assert "Too many wrong passwords" in right.content.decode()  # still locked: the right password waits too
    assert Return.objects.filter(sale=sale).count() == 1


def test_a_buyer_cannot_approve_a_void(users, store):
    with pytest.raises(OverrideRefused):
        sale_void(sale=store["sale"], register=store["sale"].register, user=users[CASHIER], approved_by=users[BUYER])
    assert not ManagerOverride.objects.filter(kind=OverrideKind.VOID_SALE).exists()


def test_a_price_override_charges_the_managers_price_and_is_recorded(till, users, register, store):
    product = store["product"]
    till.post(reverse("checkout:scan"), {"code": product.barcode}, HTTP_HX_REQUEST="true")
    line = CartLine.objects.get(cart__register=register, cart__status="open")
    alone = till.post(
        reverse("checkout:override"),
        {"kind": OverrideKind.PRICE, "line": line.pk, "unit_price": "0.50", "token": uuid.uuid4()},
    )
    assert alone.status_code == 422
    line.refresh_from_db()
    assert line.amount is None
    till.post(reverse("checkout:override"), manager_approval(kind=OverrideKind.PRICE, line=line.pk, unit_price="0.50"))
    line.refresh_from_db()
    assert line.amount == Decimal("0.50")
    cart = Cart.objects.get(register=register, status="open")
    sale = cart_checkout(cart=cart, payments=[PaymentInput("cash", Decimal("1.00"))], user=users[CASHIER]).sale
    assert sale.total == Decimal("0.50")
    record = ManagerOverride.objects.get(kind=OverrideKind.PRICE)
    assert record.approved_by == users[MANAGER] and record.reference == str(sale.client_token)
    assert f"{product.selling_price} → 0.50" in record.detail


def test_a_managers_price_is_shown_as_such_kept_for_its_quantity_and_printed_on_the_receipt(
    till, users, register, store
):
    product = store["product"]
    for _ in range(2):
        till.post(reverse("checkout:scan"), {"code": product.barcode}, HTTP_HX_REQUEST="true")
    line = CartLine.objects.get(cart__register=register, cart__status="open")
    approved = till.post(
        reverse("checkout:override"), manager_approval(kind=OverrideKind.PRICE, line=line.pk, unit_price="0.50")
    )
    assert approved.status_code == 302
    page = till.get(reverse("checkout:till")).content.decode()
    row = page[page.index(f'data-line="{line.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "(manager's price)" in row and "(scale label)" not in row
    assert '<td class="num price">0.50</td>' in row and '<td class="num amount">1.00</td>' in row

    refused = till.post(reverse("checkout:line-quantity"), {"line": line.pk, "quantity": "3"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 422
    assert "A manager set the price of" in refused.content.decode()
    line.refresh_from_db()
    assert (line.quantity, line.amount) == (2, Decimal("1.00"))

    cart = Cart.objects.get(register=register, status="open")
    sale = cart_checkout(cart=cart, payments=[PaymentInput("cash", Decimal("1.00"))], user=users[CASHIER]).sale
    sold = sale.lines.get()
    assert (sold.unit_price, sold.quantity, sold.amount) == (Decimal("0.50"), 2, Decimal("1.00"))
    receipt = till.get(reverse("checkout:receipt", args=[sale.number])).content.decode()
    assert '<td class="num">0.50</td><td class="num">1.00</td>' in receipt


def test_a_basket_given_away_by_a_manager_completes_without_a_payment(till, users, register, store):
    product = store["product"]
    till.post(reverse("checkout:scan"), {"code": product.barcode}, HTTP_HX_REQUEST="true")
    shown = {"shown_total": product.selling_price}
    refused = till.post(reverse("checkout:pay"), shown, HTTP_HX_REQUEST="true")  # a price to pay: a payment needed
    assert refused.status_code == 409 and "A sale needs at least one payment." in refused.content.decode()
    line = CartLine.objects.get(cart__register=register, cart__status="open")
    token = line.cart.token
    till.post(reverse("checkout:override"), manager_approval(kind=OverrideKind.PRICE, line=line.pk, unit_price="0"))

    paid = till.post(reverse("checkout:pay"), {"shown_total": "0.00"}, HTTP_HX_REQUEST="true")
    sale = Sale.objects.get(client_token=token)
    assert paid.headers["HX-Redirect"] == reverse("checkout:receipt", args=[sale.number])
    assert (sale.total, sale.payments.count(), sale.change) == (0, 0, 0)
    assert till.get(paid.headers["HX-Redirect"]).status_code == 200


def test_a_price_with_more_than_two_decimals_or_past_what_a_line_holds_is_refused(users, register, store):
    cart = cart_start(register=register, user=users[CASHIER])
    line = CartLine.objects.create(cart=cart, product=store["product"], quantity=Decimal(1))
    with pytest.raises(CheckoutError, match="at most 2 decimals"):
        cart_price_override(
            cart=cart, line_id=line.pk, unit_price=Decimal("0.505"), user=users[CASHIER], approved_by=users[MANAGER]
        )
    line.quantity = Decimal(1000)
    line.save()
    with pytest.raises(CheckoutError, match="more than 9999999999: check the price"):
        cart_price_override(
            cart=cart,
            line_id=line.pk,
            unit_price=Decimal("69012345.67"),
            user=users[CASHIER],
            approved_by=users[MANAGER],
        )
    assert not ManagerOverride.objects.filter(kind=OverrideKind.PRICE).exists()


def test_selling_past_the_stock_on_hand_needs_a_manager_and_then_completes(till, users, register, floor):
    product = ProductFactory(selling_price=Decimal("3.00"))  # nothing on hand
    scanned = till.post(reverse("checkout:scan"), {"code": product.barcode}, HTTP_HX_REQUEST="true")
    assert scanned.status_code == 422
    till.post(reverse("checkout:override"), manager_approval(kind=OverrideKind.STOCK_LIMIT, code=product.barcode))
    cart = Cart.objects.get(register=register, status="open")
    assert CartLine.objects.get(cart=cart).product == product
    sale = cart_checkout(cart=cart, payments=[PaymentInput("cash", Decimal("3.00"))], user=users[CASHIER]).sale
    assert StockLevel.objects.get(product=product, location=floor).on_hand == -1
    record = ManagerOverride.objects.get(kind=OverrideKind.STOCK_LIMIT)
    assert (record.requested_by, record.approved_by) == (users[CASHIER], users[MANAGER])
    assert record.reference == str(sale.client_token)


def test_a_stock_limit_approval_lends_nothing_to_another_sale_sent_with_the_carts_token(till, users, register, floor):
    approved, other = ProductFactory(selling_price=Decimal("3.00")), ProductFactory(selling_price=Decimal("2.00"))
    stock_move_batch(moves=[Move(other, floor, Decimal(4))], kind=MovementKind.RECEIPT)
    till.post(reverse("checkout:scan"), {"code": approved.barcode}, HTTP_HX_REQUEST="true")
    till.post(reverse("checkout:override"), manager_approval(kind=OverrideKind.STOCK_LIMIT, code=approved.barcode))
    cart = Cart.objects.get(register=register, status="open")
    assert ManagerOverride.objects.filter(kind=OverrideKind.STOCK_LIMIT, reference=str(cart.token)).exists()

    # The cart's token is in the till page: a sale through the API under it is still held to the stock.
    with pytest.raises(InsufficientStock):
        sale_complete(
            client_token=cart.token,
            register=register,
            lines=[LineInput(product=other, quantity=Decimal(500))],
            payments=[PaymentInput("cash", Decimal("1000.00"))],
            user=users[CASHIER],
        )
    assert StockLevel.objects.get(product=other, location=floor).on_hand == 4
    assert not Sale.objects.filter(client_token=cart.token).exists()


def test_without_the_override_a_sale_past_the_stock_is_still_refused(users, register, floor):
    product = ProductFactory()
    shift_open(register=register, opening_float=Decimal("50.00"), user=users[CASHIER])
    cart = cart_start(register=register, user=users[CASHIER])
    with pytest.raises(OverrideRefused):
        cart_add_past_stock(
            cart=cart, scan=product_lookup(product.barcode), user=users[CASHIER], approved_by=users[CASHIER]
        )
    assert not CartLine.objects.filter(cart=cart).exists()


def test_refunds_and_overrides_are_listed_for_managers_with_who_asked_and_approved(client, users, store):
    client.force_login(users[MANAGER])
    page = client.get(reverse("checkout:override-list"))
    html = page.content.decode()
    # The fixture's return was a refund approved by the manager for the cashier.
    assert "refund" in html and store["sale"].number in html
    assert "<td>cashier</td><td>manager</td>" in html
    only_voids = client.get(reverse("checkout:override-list"), {"kind": OverrideKind.VOID_SALE}).content.decode()
    assert store["sale"].number not in only_voids
    assert Sale.objects.count() == 1


def test_a_stock_limit_approval_covers_its_product_only(till, users, register, floor):
    approved, other = ProductFactory(selling_price=Decimal("3.00")), ProductFactory(selling_price=Decimal("2.00"))
    stock_move_batch(moves=[Move(other, floor, Decimal(1))], kind=MovementKind.RECEIPT)
    till.post(reverse("checkout:scan"), {"code": other.barcode}, HTTP_HX_REQUEST="true")
    till.post(reverse("checkout:override"), manager_approval(kind=OverrideKind.STOCK_LIMIT, code=approved.barcode))
    # Another till sells the last of the other product before this customer pays.
    stock_move_batch(moves=[Move(other, floor, Decimal(-1))], kind=MovementKind.SALE)
    cart = Cart.objects.get(register=register, status="open")
    with pytest.raises(InsufficientStock, match=other.name):
        cart_checkout(cart=cart, payments=[PaymentInput("cash", Decimal("5.00"))], user=users[CASHIER])
    assert StockLevel.objects.get(product=other, location=floor).on_hand == 0
    assert not Sale.objects.exists()

    CartLine.objects.filter(cart=cart, product=other).delete()
    cart_checkout(cart=cart, payments=[PaymentInput("cash", Decimal("3.00"))], user=users[CASHIER])
    assert StockLevel.objects.get(product=approved, location=floor).on_hand == -1


def test_an_approval_sent_twice_is_applied_once(till, users, register, floor):
    product = ProductFactory(selling_price=Decimal("3.00"))  # nothing on hand
    approval = manager_approval(kind=OverrideKind.STOCK_LIMIT, code=product.barcode)
    for _ in range(2):  # a double click on Approve, or the page sent again
        assert till.post(reverse("checkout:override"), approval).status_code == 302
    assert CartLine.objects.get(product=product).quantity == 1
    assert ManagerOverride.objects.filter(kind=OverrideKind.STOCK_LIMIT).count() == 1

    line = CartLine.objects.get(product=product)
    price = manager_approval(kind=OverrideKind.PRICE, line=line.pk, unit_price="1.00")
    for _ in range(2):
        till.post(reverse("checkout:override"), price)
    assert ManagerOverride.objects.filter(kind=OverrideKind.PRICE).count() == 1
    assert CartLine.objects.get(pk=line.pk).unit_price == Decimal("1.00")


def test_a_void_sent_twice_refunds_once(till, users, store):
    sale = store["sale"]
    void = manager_approval(kind=OverrideKind.VOID_SALE, number=sale.number)
    answers = [till.post(reverse("checkout:override"), void) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert Return.objects.filter(sale=sale, token=void["token"]).count() == 1
    assert ManagerOverride.objects.filter(kind=OverrideKind.VOID_SALE).count() == 1
