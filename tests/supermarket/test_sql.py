import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from checkout.models import Register, Sale
from stock.models import Location, MovementKind, StockMovement
from supermarket.sql import insert_all
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_insert_all_writes_what_the_orm_reads_back():
    user = get_user_model().objects.create_user("writer")
    register = Register.online_register()
    token = uuid.uuid4()
    sale = Sale(
        client_token=token,
        register=register,
        location=register.location,
        cashier=user,
        item_count=Decimal("1.250"),
        total=Decimal("12.34"),
        tax=Decimal("1.42"),
        paid=Decimal("20.00"),
        change=Decimal("7.66"),
    )
    insert_all([sale])
    stored = Sale.objects.get(pk=sale.pk)
    assert stored.client_token == token
    assert (stored.item_count, stored.total, stored.change) == (Decimal("1.250"), Decimal("12.34"), Decimal("7.66"))
    assert stored.created_at == sale.created_at
    assert stored.register_id == register.pk and stored.cashier_id == user.pk


def test_insert_all_sets_each_primary_key_in_order_and_fills_auto_now_add():
    location = Location.default()
    products = [ProductFactory() for _ in range(3)]
    rows = [
        StockMovement(product=p, location=location, quantity=Decimal(i + 1), kind=MovementKind.RECEIPT, balance_after=0)
        for i, p in enumerate(products)
    ]
    insert_all(rows)
    for row, product in zip(rows, products, strict=True):
        stored = StockMovement.objects.get(pk=row.pk)
        assert stored.product_id == product.pk and stored.quantity == row.quantity
        assert stored.created_at is not None
