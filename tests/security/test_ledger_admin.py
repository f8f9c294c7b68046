"""The stock ledger cannot be rewritten through the admin, not even by a superuser (ORM and raw SQL are covered in
tests/stock/test_stock_service.py)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from stock.models import MovementKind, StockLevel, StockMovement
from stock.services import stock_move
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def movement(floor):
    return stock_move(product=ProductFactory(), location=floor, quantity=Decimal(5), kind=MovementKind.RECEIPT)


@pytest.fixture
def root(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))
    return client


def test_admin_change_post_of_a_movement_is_refused_and_changes_nothing(root, movement):
    url = reverse("admin:stock_stockmovement_change", args=[movement.pk])
    assert root.get(url).status_code == 200  # it can be read
    response = root.post(url, {"quantity": "500", "reference": "rewritten", "kind": movement.kind})
    assert response.status_code == 403
    movement.refresh_from_db()
    assert (movement.quantity, movement.reference) == (Decimal(5), "")


def test_admin_delete_of_a_movement_is_refused_one_by_one_and_in_bulk(root, movement):
    assert (
        root.post(reverse("admin:stock_stockmovement_delete", args=[movement.pk]), {"post": "yes"}).status_code == 403
    )
    bulk = root.post(
        reverse("admin:stock_stockmovement_changelist"),
        {"action": "delete_selected", "_selected_action": [movement.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)  # the admin offers no such action: nothing is deleted
    assert StockMovement.objects.filter(pk=movement.pk).exists()


def test_admin_cannot_add_a_movement_or_edit_a_stock_level(root, movement, floor):
    assert root.post(reverse("admin:stock_stockmovement_add"), {"quantity": "9"}).status_code == 403
    level = StockLevel.objects.get(product=movement.product, location=floor)
    response = root.post(reverse("admin:stock_stocklevel_change", args=[level.pk]), {"on_hand": "999"})
    assert response.status_code == 403
    level.refresh_from_db()
    assert level.on_hand == Decimal(5)
