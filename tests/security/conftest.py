import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from checkout.models import Promotion, Register
from checkout.pricing import LineInput, PaymentInput
from checkout.selectors import open_shift
from checkout.services import api_token_for, sale_complete, sale_return, shift_open
from stock.models import Location, Lot, MovementKind, ReplenishmentSuggestion, WriteOff
from stock.purchasing import OrderLine, purchase_order_create
from stock.receiving import receipt_start
from stock.services import Move, stock_move_batch
from stock.stocktake import count_session_start
from stock.transfers import DocumentLine, transfer_create, write_off_create
from supermarket.roles import BUYER, CASHIER, MANAGER, STOCK_CLERK, user_set_role
from tests.checkout.promotion_helpers import make_promotion
from tests.factories import ProductBarcodeFactory, ProductFactory, SupplierFactory

ROLE_NAMES = (CASHIER, STOCK_CLERK, BUYER, MANAGER)
PASSWORD = "role-pass-1"


@pytest.fixture
def users(db) -> dict[str, object]:
    """One user per role, a superuser, and None for anonymous."""
    model = get_user_model()
    made = {}
    for role in ROLE_NAMES:
        user = model.objects.create_user(role.lower().replace(" ", "_"), password=PASSWORD)
        user_set_role(user=user, role=role)
        made[role] = user
    made["superuser"] = model.objects.create_superuser("root", password=PASSWORD)
    made["anonymous"] = None
    return made


@pytest.fixture
def register(floor) -> Register:
    return Register.objects.create(code="T01", name="收银台 1", location=floor)


@pytest.fixture
def store(users, floor, backroom, register) -> dict:
    """A store with one of everything the admin lists, so that object pages are walked on real rows."""
    supplier = SupplierFactory()
    product = ProductFactory(supplier=supplier, safety_stock=Decimal(5))
    dated = ProductFactory(supplier=supplier, lot_tracked=True)
    ProductBarcodeFactory(product=product)
    lot = Lot.objects.create(product=dated, code="L1", expiry_date=date.today() + timedelta(days=30))
    stock_move_batch(
        moves=[Move(product, floor, Decimal(20)), Move(dated, floor, Decimal(5), lot), Move(product, backroom, 9)],
        kind=MovementKind.RECEIPT,
    )
    stock_move_batch(moves=[Move(product, floor, Decimal(-16))], kind=MovementKind.SALE)  # below safety stock
    assert ReplenishmentSuggestion.objects.exists()
    cashier, manager = users[CASHIER], users[MANAGER]
    shift = open_shift(register) or shift_open(register=register, opening_float=Decimal("100.00"), user=cashier)
    sale = sale_complete(
        client_token=uuid.uuid4(),
        register=register,
        lines=[LineInput(product=product, quantity=Decimal(2))],
        payments=[PaymentInput("cash", product.selling_price * 2)],
        user=cashier,
    ).sale
    sale_return(
        sale=sale,
        quantities={sale.lines.get().pk: Decimal(1)},
        refund_method="cash",
        register=register,
        user=cashier,
        approved_by=manager,
    )
    order = purchase_order_create(supplier=supplier, lines=[OrderLine(product, Decimal(10))], location=floor)
    receipt = receipt_start(location=floor, reason="sample delivery")
    count = count_session_start(location=floor)
    transfer_create(source=backroom, destination=floor, lines=[DocumentLine(product, Decimal(1))])
    write_off_create(location=floor, reason=WriteOff.Reason.values[0], lines=[DocumentLine(product, Decimal(1))])
    api_token_for(cashier)
    # The login throttle's records: a failed try by an unknown name, a successful login.
    Client().post("/checkout/login/", {"username": "nobody", "password": "guess"})
    Client().post("/checkout/login/", {"username": cashier.username, "password": PASSWORD})
    over = timezone.now() - timedelta(days=2)  # a finished promotion: listed in the admin, prices nothing
    make_promotion(
        "expired offer",
        Promotion.Kind.PERCENT_OFF,
        products=[product],
        value=Decimal(10),
        starts_at=over,
        ends_at=over + timedelta(hours=1),
    )
    return {
        "product": product,
        "sale": sale,
        "shift": shift,
        "order": order,
        "receipt": receipt,
        "count": count,
        "location": Location.default(),
    }
