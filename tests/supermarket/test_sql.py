import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkout.models import Register, Sale
from stock.models import Location, MovementKind, StockMovement
from supermarket import sql
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


def _sale_with_rows(user, lines: int):
    from checkout.models import Payment, SaleLine

    register = Register.online_register()
    products = [ProductFactory() for _ in range(lines)]
    with connection.cursor() as cursor:  # the sale's id drawn first, as sale_complete draws it
        cursor.execute("SELECT nextval(pg_get_serial_sequence('checkout_sale', 'id'))")
        (sale_id,) = cursor.fetchone()
    sale = Sale(
        pk=sale_id,
        number=f"T-{sale_id}",
        client_token=uuid.uuid4(),
        register=register,
        location=register.location,
        cashier=user,
        item_count=Decimal(lines),
        total=Decimal("9.00"),
        tax=Decimal("0"),
        paid=Decimal("9.00"),
    )
    rows = [
        SaleLine(sale=sale, position=i, product=p, code=p.barcode, quantity=1, unit_price=1, amount=1, tax=0, cost=1)
        for i, p in enumerate(products, start=1)
    ]
    payments = [Payment(sale=sale, method="cash", amount=Decimal("4.00")), Payment(sale=sale, method="card", amount=5)]
    return sale, rows, payments


@pytest.mark.parametrize("prepared", [False, True], ids=["objects", "rows prepared earlier"])
def test_insert_all_writes_several_models_and_a_prior_update_in_one_statement(prepared):
    user = get_user_model().objects.create_user("writer")
    sale, lines, payments = _sale_with_rows(user, 3)
    product = lines[0].product
    before = (f"UPDATE {type(product)._meta.db_table} SET name = %s WHERE id = %s", ["改名 Renamed", product.pk])
    groups = [[sale], lines, payments]
    if prepared:
        groups = [sql.rows_prepare(group) for group in groups]
    with CaptureQueriesContext(connection) as queries:
        insert_all(*groups, before=[before])
    assert len(queries) == 1
    stored = Sale.objects.get(pk=sale.pk)
    assert [line.pk for line in stored.lines.order_by("position")] == [line.pk for line in lines]
    assert sorted(p.pk for p in stored.payments.all()) == sorted(p.pk for p in payments)
    assert {p.method: p.amount for p in stored.payments.all()} == {"cash": Decimal("4.00"), "card": Decimal("5.00")}
    product.refresh_from_db()
    assert product.name == "改名 Renamed"


def test_insert_all_beyond_the_parameter_limit_writes_statement_by_statement(monkeypatch):
    user = get_user_model().objects.create_user("writer")
    sale, lines, payments = _sale_with_rows(user, 4)
    monkeypatch.setattr(sql, "max_params", lambda: 30)  # fewer than the sale's, lines' and payments' together
    with CaptureQueriesContext(connection) as queries:
        insert_all([sale], lines, payments)
    assert len(queries) > 3  # the sale, then the lines a few at a time, then the payments
    stored = Sale.objects.get(pk=sale.pk)
    assert [(line.pk, line.product_id) for line in stored.lines.order_by("position")] == [
        (line.pk, line.product_id) for line in lines
    ]
    assert stored.payments.count() == 2


def test_psycopg_keeps_the_conversion_of_a_sale_sized_statement():
    from psycopg import _queries

    statement = "SELECT " + ", ".join(["%s::int"] * 120)
    with connection.cursor() as cursor:
        cursor.execute(statement, list(range(120)))
        hits = _queries._query2pg.cache_info().hits
        cursor.execute(statement, list(range(120)))
        assert cursor.fetchone()[-1] == 119
    assert _queries._query2pg.cache_info().hits == hits + 1
