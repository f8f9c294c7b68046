"""Back-store pages given input no page of theirs sends (an edited form, a replayed request)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from stock.models import MovementKind, PurchaseOrder, ReplenishmentSuggestion, WriteOff
from stock.services import Move, stock_move_batch
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client, django_user_model):
    user = django_user_model.objects.create_superuser("manager", password="x")
    client.force_login(user)
    return user


@pytest.mark.parametrize("chosen", [["abc"], ["1.5"], ["", "2"]])
def test_ordering_suggestions_that_are_not_ids_is_refused_with_a_message(client, manager, floor, chosen):
    product = ProductFactory(safety_stock=Decimal(5))
    stock_move_batch(moves=[Move(product, floor, Decimal(1))], kind=MovementKind.RECEIPT)
    stock_move_batch(moves=[Move(product, floor, Decimal(-1))], kind=MovementKind.SALE)
    assert ReplenishmentSuggestion.objects.filter(product=product).exists()
    response = client.post(reverse("stock:replenishment-order"), {"suggestion": chosen})
    assert response.status_code == 400
    assert "reload the page" in response.content.decode()
    assert not PurchaseOrder.objects.exists()


@pytest.mark.parametrize("location", ["abc", "1.5", ""])
def test_writing_off_expired_lots_at_a_location_that_is_not_an_id_is_refused_with_a_message(
    client, manager, floor, location
):
    response = client.post(reverse("stock:expired-write-off"), {"location": location})
    assert response.status_code == 400
    assert "Choose a location" in response.content.decode()
    assert not WriteOff.objects.exists()


def test_purchase_order_list_heads_the_number_column_with_a_translated_sortable_label(admin_client, floor):
    from stock.purchasing import OrderLine, purchase_order_create

    product = ProductFactory()
    first = purchase_order_create(supplier=product.supplier, lines=[OrderLine(product, Decimal(1))])
    second = purchase_order_create(supplier=product.supplier, lines=[OrderLine(product, Decimal(2))])
    url = reverse("admin:stock_purchaseorder_changelist")
    page = admin_client.get(url).content.decode()
    assert 'class="sortable column-order_number' in page and ">Order number<" in page
    assert ">Number<" not in page
    by_number = admin_client.get(url, {"o": "1"}).content.decode()
    assert by_number.index(first.number) < by_number.index(second.number)


def test_near_expiry_location_list_offers_all_locations_first(client, manager, floor):
    form = client.get(reverse("stock:near-expiry")).context["form"]
    empty_value, empty_label = next(iter(form.fields["location"].choices))
    assert (empty_value, str(empty_label)) == ("", "All locations")
