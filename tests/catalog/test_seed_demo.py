from datetime import date

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum

from catalog import gtin
from catalog.demo import seed_demo
from catalog.models import Category, Product
from reports.models import SalesDaily
from stock.models import ReplenishmentSuggestion

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    pass


def fingerprint(seed: int) -> tuple:
    try:
        with transaction.atomic():
            seed_demo(products=80, days=30, seed=seed, today=date(2026, 6, 1))
            result = (
                tuple(Product.objects.order_by("barcode").values_list("barcode", "name", "selling_price")),
                SalesDaily.objects.aggregate(q=Sum("quantity"))["q"],
            )
            raise Rollback
    except Rollback:
        return result


def test_demo_store_is_a_valid_supermarket():
    result = seed_demo(products=120, days=30, seed=3, today=date(2026, 6, 1))
    assert result.products == 120 and Category.objects.count() >= 30
    for barcode in Product.objects.values_list("barcode", flat=True):
        assert gtin.normalize(barcode) == barcode and barcode[:3] in {str(p) for p in range(690, 700)}
    assert Product.objects.exclude(name_en="").count() == 120
    assert SalesDaily.objects.filter(day__lt=date(2026, 6, 1)).count() == result.sales_rows
    assert ReplenishmentSuggestion.objects.exists()
    call_command("check_stock_ledger")


def test_demo_users_have_their_roles(client, django_user_model):
    result = seed_demo(products=20, days=7, seed=3, today=date(2026, 6, 1))
    cashier, manager = (django_user_model.objects.get(username=name) for name in ("cashier", "manager"))
    assert cashier.check_password(result.passwords["cashier"]) and manager.check_password(result.passwords["manager"])
    client.force_login(cashier)
    assert client.get("/checkout/register/").status_code == 200
    assert client.get("/reports/").status_code == 403
    client.force_login(manager)
    assert client.get("/reports/").status_code == 200


def test_demo_store_is_deterministic_for_a_seed():
    assert fingerprint(5) == fingerprint(5)
    assert fingerprint(5) != fingerprint(6)
