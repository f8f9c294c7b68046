from decimal import Decimal

import pytest
from django.urls import reverse

from stock.models import MovementKind, PurchaseOrder, Receipt, ReplenishmentSuggestion, StockMovement, WriteOff
from stock.purchasing import OrderLine, purchase_order_cancel, purchase_order_create, purchase_order_send
from stock.receiving import receipt_post, receipt_scan, receipt_start
from stock.replenishment import open_suggestions, suggestions_order
from stock.services import Move, stock_move_batch
from stock.stocktake import count_session_start
from stock.transfers import DocumentLine, transfer_create, write_off_create
from supermarket.roles import BUYER, MANAGER, user_set_role
from tests.factories import ProductFactory, SupplierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def login(client, django_user_model):
    def as_role(role: str):
        user = django_user_model.objects.create_user(role.lower(), password="x")
        user_set_role(user=user, role=role)
        client.force_login(user)
        return client

    return as_role


def out_of_stock(product, location) -> ReplenishmentSuggestion:
    """Sells the product's last unit at the location, which raises its suggestion."""
    stock_move_batch(moves=[Move(product, location, Decimal(1))], kind=MovementKind.RECEIPT)
    stock_move_batch(moves=[Move(product, location, Decimal(-1))], kind=MovementKind.SALE)
    return ReplenishmentSuggestion.objects.get(product=product, location=location, status="open")


def ordered_from_suggestions(floor, *products) -> PurchaseOrder:
    suggestions = [out_of_stock(product, floor) for product in products]
    [order] = suggestions_order(suggestions=suggestions).orders
    return order


# A. The lines of a sent order -------------------------------------------------------------------


def test_a_buyer_sees_the_lines_of_a_sent_order_with_what_came_read_only(login, floor):
    product = ProductFactory(name="酱油")
    order = purchase_order_create(supplier=product.supplier, lines=[OrderLine(product, Decimal(12))], location=floor)
    url = reverse("admin:stock_purchaseorder_change", args=[order.pk])
    buyer = login(BUYER)
    draft = buyer.get(url)
    assert [(f.has_view_permission, f.has_change_permission) for f in draft.context["inline_admin_formsets"]] == [
        (True, True)
    ]
    purchase_order_send(order=order)
    receipt = receipt_start(order=order)
    receipt_scan(receipt=receipt, code=product.barcode)
    receipt_post(receipt=receipt)

    page = buyer.get(url)
    [lines] = page.context["inline_admin_formsets"]
    assert (lines.has_view_permission, lines.has_change_permission, lines.has_add_permission) == (True, False, False)
    content = page.content.decode()
    assert "酱油" in content and 'name="lines-0-quantity"' not in content
    assert [(line.quantity, line.received_quantity) for line in lines.formset.queryset] == [(12, 1)]

    management = lines.formset.management_form
    data = {management.add_prefix(name): management[name].value() for name in management.fields}
    data.update({"lines-0-id": order.lines.get().pk, "lines-0-quantity": "99", "note": "周五到"})
    assert buyer.post(url, data).status_code == 302
    order.refresh_from_db()
    assert (order.note, order.lines.get().quantity) == ("周五到", 12)


# B. Cancelled or deleted orders made from suggestions -----------------------------------------------------


def test_cancelling_an_order_from_suggestions_suggests_again_what_is_still_below_safety_stock(floor):
    supplier = SupplierFactory()
    empty, restocked = (ProductFactory(supplier=supplier, safety_stock=Decimal(5)) for _ in range(2))
    order = ordered_from_suggestions(floor, empty, restocked)
    stock_move_batch(moves=[Move(restocked, floor, Decimal(8))], kind=MovementKind.RECEIPT)
    assert not open_suggestions().exists()

    purchase_order_cancel(order=order)
    [again] = open_suggestions()
    assert (again.product, again.location, again.on_hand_when_raised) == (empty, floor, 0)
    # The ordered ones stay as a record of the cancelled order.
    assert set(order.suggestions.values_list("product", "status")) == {
        (empty.pk, "ordered"),
        (restocked.pk, "ordered"),
    }


def test_cancelling_leaves_one_open_suggestion_when_a_sale_raised_one_meanwhile(floor):
    product = ProductFactory(safety_stock=Decimal(5))
    order = ordered_from_suggestions(floor, product)
    raised = out_of_stock(product, floor)
    purchase_order_cancel(order=order)
    assert list(open_suggestions()) == [raised]


def test_a_manually_made_order_cancelled_raises_nothing(floor):
    product = ProductFactory(safety_stock=Decimal(5))
    out_of_stock(product, floor).delete()
    order = purchase_order_create(supplier=product.supplier, lines=[OrderLine(product, Decimal(5))], location=floor)
    purchase_order_cancel(order=order)
    assert not open_suggestions().exists()


@pytest.mark.parametrize("how", ["one", "bulk"])
def test_deleting_a_draft_from_suggestions_in_the_admin_suggests_again(login, floor, how):
    product = ProductFactory(safety_stock=Decimal(5))
    order = ordered_from_suggestions(floor, product)
    manager = login(MANAGER)
    if how == "one":
        response = manager.post(reverse("admin:stock_purchaseorder_delete", args=[order.pk]), {"post": "yes"})
    else:
        response = manager.post(
            reverse("admin:stock_purchaseorder_changelist"),
            {"action": "delete_selected", "_selected_action": [order.pk], "post": "yes"},
        )
    assert response.status_code == 302
    assert not PurchaseOrder.objects.exists()
    [again] = open_suggestions()
    assert (again.product, again.on_hand_when_raised) == (product, 0)


# C. Search by the number shown ----------------------------------------------------------------------------


def numbered_documents(here, there) -> dict[str, object]:
    # Names without digits, so that a number searched for matches no name.
    product = ProductFactory(supplier=SupplierFactory(name=f"供应商 {here.code}"))
    stock_move_batch(moves=[Move(product, there, Decimal(5))], kind=MovementKind.RECEIPT)
    line = DocumentLine(product, Decimal(1))
    return {
        "purchaseorder": purchase_order_create(supplier=product.supplier, lines=[OrderLine(product, Decimal(3))]),
        "receipt": receipt_start(location=here, reason="sample"),
        "countsession": count_session_start(location=here),
        "transfer": transfer_create(source=there, destination=here, lines=[line]),
        "writeoff": write_off_create(location=there, reason=WriteOff.Reason.DAMAGED, lines=[line]),
    }


@pytest.mark.parametrize("model", ["purchaseorder", "receipt", "countsession", "transfer", "writeoff"])
def test_admin_search_finds_a_document_by_the_number_it_is_shown_with(admin_client, floor, backroom, model):
    document = numbered_documents(floor, backroom)[model]
    numbered_documents(backroom, floor)  # one more of each, which the search must leave out
    number = str(document).split()[0]  # PO000042, or ST000007 with the location after it
    prefix, digits = number[:2], number[2:]
    url = reverse(f"admin:stock_{model}_changelist")
    for term in (number, number.lower(), f" {prefix}{int(digits)} ", digits, str(document.pk)):
        page = admin_client.get(url, {"q": term})
        assert list(page.context["cl"].result_list) == [document], term
    assert not admin_client.get(url, {"q": f"{prefix}{document.pk + 1000}"}).context["cl"].result_list


# D. Deleting a draft receipt ----------------------------------------------------------------------------


def test_a_manager_deletes_a_draft_receipt_but_not_a_posted_one(login, floor):
    product = ProductFactory()
    draft, posted = (receipt_start(location=floor, reason=f"delivery {n}") for n in (1, 2))
    for receipt in (draft, posted):
        receipt_scan(receipt=receipt, code=product.barcode)
    receipt_post(receipt=posted)
    ledger = list(StockMovement.objects.values_list("pk", flat=True))
    manager = login(MANAGER)

    refused = manager.post(reverse("admin:stock_receipt_delete", args=[posted.pk]), {"post": "yes"})
    assert refused.status_code == 403
    bulk = reverse("admin:stock_receipt_changelist")
    manager.post(bulk, {"action": "delete_selected", "_selected_action": [draft.pk, posted.pk], "post": "yes"})
    assert Receipt.objects.count() == 2

    deleted = manager.post(reverse("admin:stock_receipt_delete", args=[draft.pk]), {"post": "yes"})
    assert deleted.status_code == 302
    assert list(Receipt.objects.all()) == [posted]
    assert list(StockMovement.objects.values_list("pk", flat=True)) == ledger


def test_a_buyer_cannot_delete_a_draft_receipt(login, floor):
    draft = receipt_start(location=floor, reason="delivery")
    buyer = login(BUYER)
    assert buyer.post(reverse("admin:stock_receipt_delete", args=[draft.pk]), {"post": "yes"}).status_code == 403
    assert Receipt.objects.filter(pk=draft.pk).exists()


def test_a_draft_posted_meanwhile_is_not_deleted(rf, floor, django_user_model):
    from django.contrib import admin
    from django.core.exceptions import PermissionDenied

    product = ProductFactory()
    receipt = receipt_start(location=floor, reason="delivery")
    receipt_scan(receipt=receipt, code=product.barcode)
    stale = Receipt.objects.get(pk=receipt.pk)  # read as a draft by the delete page
    receipt_post(receipt=receipt)
    request = rf.post("/")
    request.user = django_user_model.objects.create_superuser("boss", password="x")
    with pytest.raises(PermissionDenied):
        admin.site.get_model_admin(Receipt).delete_model(request, stale)
    assert Receipt.objects.filter(pk=receipt.pk).exists()
