from decimal import Decimal

import pytest
from django.urls import reverse

from stock.models import MovementKind, PurchaseOrder, ReplenishmentSuggestion
from stock.purchasing import OrderLine, purchase_order_create, purchase_order_send
from stock.receiving import receipt_post, receipt_scan, receipt_start
from stock.services import Move, stock_move_batch
from stock.stocktake import count_add, count_session_start
from tests.factories import ProductFactory, SupplierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", password="x"))
    return client


def raise_suggestion(product, location):
    stock_move_batch(moves=[Move(product, location, Decimal(2))], kind=MovementKind.RECEIPT)
    stock_move_batch(moves=[Move(product, location, Decimal(-1))], kind=MovementKind.SALE)
    return ReplenishmentSuggestion.objects.get(product=product)


def test_ledger_rows_link_to_their_documents(admin_client, floor):
    product = ProductFactory()
    receipt = receipt_start(location=floor, reason="sample")
    receipt_scan(receipt=receipt, code=product.barcode)
    receipt_post(receipt=receipt)
    page = admin_client.get(reverse("admin:stock_stockmovement_changelist"), {"kind__exact": "receipt"})
    link = reverse("admin:stock_receipt_change", args=[receipt.pk])
    assert link in page.content.decode()
    assert admin_client.get(link).status_code == 200


def test_suggestion_actions_create_draft_orders_and_dismiss_with_reason(admin_client, floor):
    supplier = SupplierFactory()
    ordered = raise_suggestion(ProductFactory(supplier=supplier, safety_stock=Decimal(4)), floor)
    dismissed = raise_suggestion(ProductFactory(supplier=supplier, safety_stock=Decimal(4)), floor)
    url = reverse("admin:stock_replenishmentsuggestion_changelist")
    admin_client.post(url, {"action": "create_draft_orders", "_selected_action": [ordered.pk]})
    order = PurchaseOrder.objects.get()
    assert (order.supplier, order.status, order.lines.get().product) == (supplier, "draft", ordered.product)

    form = admin_client.post(url, {"action": "dismiss", "_selected_action": [dismissed.pk]})
    assert b'name="reason"' in form.content
    admin_client.post(url, {"action": "dismiss", "_selected_action": [dismissed.pk], "apply": "1", "reason": ""})
    assert ReplenishmentSuggestion.objects.get(pk=dismissed.pk).status == "open"
    admin_client.post(
        url, {"action": "dismiss", "_selected_action": [dismissed.pk], "apply": "1", "reason": "缺货停供"}
    )
    dismissed.refresh_from_db()
    assert (dismissed.status, dismissed.dismissed_reason) == ("dismissed", "缺货停供")


def test_only_a_user_who_may_order_creates_orders_from_suggestions(client, django_user_model, floor):
    from django.contrib.auth.models import Permission

    clerk = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    clerk.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="stock",
            codename__in=["view_replenishmentsuggestion", "change_replenishmentsuggestion"],
        )
    )
    client.force_login(clerk)
    suggestion = raise_suggestion(ProductFactory(safety_stock=Decimal(4)), floor)
    url = reverse("admin:stock_replenishmentsuggestion_changelist")
    assert b"create_draft_orders" not in client.get(url).content
    client.post(url, {"action": "create_draft_orders", "_selected_action": [suggestion.pk]})
    assert not PurchaseOrder.objects.exists()

    clerk.user_permissions.add(Permission.objects.get(content_type__app_label="stock", codename="add_purchaseorder"))
    clerk = django_user_model.objects.get(pk=clerk.pk)  # permissions are cached per user object
    client.force_login(clerk)
    assert b"create_draft_orders" in client.get(url).content
    client.post(url, {"action": "create_draft_orders", "_selected_action": [suggestion.pk]})
    assert PurchaseOrder.objects.get().lines.get().product == suggestion.product


def test_purchase_order_admin_shows_lines_and_sends(admin_client, floor):
    product = ProductFactory()
    order = purchase_order_create(supplier=product.supplier, lines=[OrderLine(product, Decimal(12))])
    page = admin_client.get(reverse("admin:stock_purchaseorder_change", args=[order.pk]))
    assert page.status_code == 200 and product.name in page.content.decode()
    admin_client.post(
        reverse("admin:stock_purchaseorder_changelist"), {"action": "send", "_selected_action": [order.pk]}
    )
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.SENT


def test_count_session_admin_lists_sessions_with_review_link(admin_client, floor):
    product = ProductFactory()
    session = count_session_start(location=floor)
    count_add(session=session, code=product.barcode)
    page = admin_client.get(reverse("admin:stock_countsession_changelist")).content.decode()
    assert reverse("stock:count-review", args=[session.pk]) in page
    assert admin_client.get(reverse("admin:stock_countsession_change", args=[session.pk])).status_code == 200


def test_stock_level_links_to_its_ledger_filtered_by_product_and_location(admin_client, floor, backroom):
    rice, salt = ProductFactory(name="大米"), ProductFactory(name="食盐")
    stock_move_batch(moves=[Move(rice, floor, Decimal(3)), Move(salt, floor, Decimal(4))], kind=MovementKind.RECEIPT)
    stock_move_batch(moves=[Move(rice, backroom, Decimal(5))], kind=MovementKind.RECEIPT)
    levels = admin_client.get(reverse("admin:stock_stocklevel_changelist")).content.decode()
    query = f"product__id__exact={rice.pk}&amp;location__id__exact={floor.pk}"
    assert query in levels
    ledger = admin_client.get(
        reverse("admin:stock_stockmovement_changelist"),
        {"product__id__exact": rice.pk, "location__id__exact": floor.pk},
    )
    assert ledger.status_code == 200
    assert list(ledger.context["cl"].queryset.values_list("product", "location")) == [(rice.pk, floor.pk)]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"supplier": "other", "quantity": "2"}, "the product is bought from"),
        ({"active": False, "quantity": "2"}, "the product is delisted"),
        ({"quantity": "1.5"}, "is sold by the piece: the quantity must be a whole number"),
        ({"quantity": "0"}, "Quantity must be more than zero"),
    ],
)
def test_order_lines_typed_in_the_admin_pass_the_order_checks(admin_client, floor, line, message):
    supplier = SupplierFactory()
    product = ProductFactory(
        supplier=SupplierFactory() if line.get("supplier") == "other" else supplier, active=line.get("active", True)
    )
    data = {
        "supplier": supplier.pk,
        "location": floor.pk,
        "expected_date": "",
        "note": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-product": product.pk,
        "lines-0-quantity": line["quantity"],
        "lines-0-unit_cost": "3",
    }
    refused = admin_client.post(reverse("admin:stock_purchaseorder_add"), data)
    assert refused.status_code == 200
    assert message in refused.content.decode()
    assert not PurchaseOrder.objects.exists()
    data["lines-0-quantity"], product.supplier, product.active = "2", supplier, True
    product.save()
    assert admin_client.post(reverse("admin:stock_purchaseorder_add"), data).status_code == 302
    assert PurchaseOrder.objects.get().lines.get().quantity == 2


def test_a_sent_order_with_received_lines_saves_in_the_admin(admin_client, floor):
    supplier = SupplierFactory()
    product = ProductFactory(supplier=supplier)
    order = purchase_order_create(supplier=supplier, lines=[OrderLine(product, Decimal(5))], location=floor)
    purchase_order_send(order=order)
    receipt = receipt_start(order=order)
    receipt_scan(receipt=receipt, code=ProductFactory(supplier=supplier).barcode)  # delivered, not ordered
    receipt_post(receipt=receipt)
    url = reverse("admin:stock_purchaseorder_change", args=[order.pk])
    page = admin_client.get(url)
    data = {"supplier": supplier.pk, "location": floor.pk, "expected_date": "", "note": "供应商说周五到"}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
    response = admin_client.post(url, data)
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.note == "供应商说周五到" and order.lines.count() == 2
