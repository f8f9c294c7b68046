import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from checkout.models import Register
from checkout.pricing import LineInput, PaymentInput
from checkout.selectors import basket, till_carts
from checkout.services import sale_complete, shift_open
from stock.models import MovementKind
from stock.services import Move, stock_move_batch
from supermarket.roles import CASHIER, MANAGER, user_set_role
from tests.factories import ProductFactory


@pytest.fixture
def cashier(db):
    user = get_user_model().objects.create_user("cashier1", password="cashier-pass-1")
    user_set_role(user=user, role=CASHIER)
    return user


@pytest.fixture
def manager(db):
    user = get_user_model().objects.create_user("manager1", password="manager-pass-1")
    user_set_role(user=user, role=MANAGER)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="checkout", codename__in=["add_return", "override_expired"])
    )
    return get_user_model().objects.get(pk=user.pk)  # fresh instance: no stale permission cache


@pytest.fixture
def register(floor):
    return Register.objects.create(code="T01", name="收银台 1", location=floor)


@pytest.fixture
def shift(register, cashier):
    return shift_open(register=register, opening_float=Decimal("200.00"), user=cashier)


@pytest.fixture
def stocked(floor):
    """Make products with stock on the floor: stocked(n, on_hand=..., **product fields)."""

    def make(n: int = 1, *, on_hand: Decimal = Decimal(50), **fields):
        products = ProductFactory.create_batch(n, **fields)
        stock_move_batch(moves=[Move(p, floor, Decimal(on_hand)) for p in products], kind=MovementKind.RECEIPT)
        return products

    return make


@pytest.fixture
def sell(cashier):
    """Complete a cash sale of (product, quantity) pairs, paying exactly."""

    def sell_(register, items, *, user=None, token=None):
        lines = [LineInput(product=p, quantity=Decimal(q)) for p, q in items]
        total = sum((p.selling_price * Decimal(q) for p, q in items), Decimal(0))
        return sale_complete(
            client_token=token or uuid.uuid4(),
            register=register,
            lines=lines,
            payments=[PaymentInput("cash", total)],
            user=user or cashier,
        ).sale

    return sell_


@pytest.fixture
def till(client, cashier, register, shift):
    """The cashier logged in at the till bound to the register: till("scan/", code=...) posts an htmx action.
    "pay/" sends the total of the basket as the till would show it now, as the pay panel does, unless the test
    gives shown_total."""
    client.force_login(cashier)
    client.post("/checkout/register/", {"register": register.pk})

    def post(path: str, **data):
        if path == "pay/" and "shown_total" not in data:
            cart, _held = till_carts(register)
            if cart is not None:
                data["shown_total"] = basket(cart).totals.total
        return client.post(f"/checkout/{path}", data, HTTP_HX_REQUEST="true")

    post.client = client
    return post
