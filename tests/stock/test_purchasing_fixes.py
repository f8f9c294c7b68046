from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from stock.models import (
    MovementKind,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReplenishmentSuggestion,
    StockMovement,
    WriteOff,
)
from stock.purchasing import (
    OrderLine,
    purchase_order_cancel,
    purchase_order_create,
    purchase_order_delete,
    purchase_order_send,
)
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


# E. Only a draft order is deleted -------------------------------------------------------------------------


def orders_in_every_status_but_draft(floor) -> dict[str, PurchaseOrder]:
    supplier = SupplierFactory()
    products = [ProductFactory(supplier=supplier) for _ in range(2)]
    orders = {}
    for status in ("sent", "partial", "received", "cancelled", "cancelled_after_partial"):
        order = purchase_order_create(
            supplier=supplier, lines=[OrderLine(product, Decimal(2)) for product in products], location=floor
        )
        purchase_order_send(order=order)
        if status in ("partial", "received", "cancelled_after_partial"):
            receipt = receipt_start(order=order)
            for product in products if status == "received" else products[:1]:
                for _ in range(2):
                    receipt_scan(receipt=receipt, code=product.barcode)
            receipt_post(receipt=receipt)
        if status.startswith("cancelled"):
            purchase_order_cancel(order=order)
        orders[status] = PurchaseOrder.objects.get(pk=order.pk)
    return orders


def test_the_service_deletes_no_order_but_a_draft_and_says_to_cancel_an_open_one(floor):
    orders = orders_in_every_status_but_draft(floor)
    assert {name: order.status for name, order in orders.items()} == {
        "sent": "sent",
        "partial": "partial",
        "received": "received",
        "cancelled": "cancelled",
        "cancelled_after_partial": "cancelled",
    }
    for name, order in orders.items():
        with pytest.raises(ValidationError) as refused:
            purchase_order_delete(order=order)
        message = " ".join(refused.value.messages)
        assert f"{order.number} is {order.get_status_display()}: only a draft can be deleted" in message, name
        assert ("Cancel it instead" in message) == (name in ("sent", "partial")), name
    assert PurchaseOrder.objects.count() == 5 and PurchaseOrderLine.objects.count() == 10


def test_a_manager_cannot_delete_a_sent_order_in_the_admin_and_is_told_to_cancel_it(login, floor):
    product = ProductFactory(safety_stock=Decimal(5))
    order = ordered_from_suggestions(floor, product)
    purchase_order_send(order=order)
    manager = login(MANAGER)
    change = reverse("admin:stock_purchaseorder_change", args=[order.pk])
    assert manager.get(change).context["has_delete_permission"] is False

    delete = reverse("admin:stock_purchaseorder_delete", args=[order.pk])
    for response in (manager.get(delete, follow=True), manager.post(delete, {"post": "yes"}, follow=True)):
        assert response.redirect_chain == [(change, 302)]
        [message] = response.context["messages"]
        assert message.level_tag == "error" and "only a draft can be deleted. Cancel it instead" in message.message
    assert PurchaseOrder.objects.get(pk=order.pk).lines.count() == 1
    assert not open_suggestions().exists()  # it is still on order


def test_deleting_selected_orders_with_a_sent_or_cancelled_one_deletes_none(login, floor):
    supplier = SupplierFactory()
    drafts = [
        purchase_order_create(supplier=supplier, lines=[OrderLine(ProductFactory(supplier=supplier), Decimal(2))])
        for _ in range(3)
    ]
    purchase_order_send(order=drafts[1])
    purchase_order_cancel(order=drafts[2])
    manager = login(MANAGER)
    url = reverse("admin:stock_purchaseorder_changelist")
    selected = [order.pk for order in drafts]
    for data in ({}, {"post": "yes"}):  # the confirmation page, and the confirmed deletion
        response = manager.post(url, {"action": "delete_selected", "_selected_action": selected, **data}, follow=True)
        assert response.redirect_chain == [(url, 302)]
        errors = [m.message for m in response.context["messages"] if m.level_tag == "error"]
        assert errors == [
            f"{drafts[1].number} is sent: only a draft can be deleted. Cancel it instead, which keeps the record of "
            "what was ordered.",
            f"{drafts[2].number} is cancelled: only a draft can be deleted, and this order stays as a record.",
        ]
    assert PurchaseOrder.objects.count() == 3

    response = manager.post(url, {"action": "delete_selected", "_selected_action": [drafts[0].pk], "post": "yes"})
    assert response.status_code == 302
    assert set(PurchaseOrder.objects.values_list("pk", flat=True)) == {drafts[1].pk, drafts[2].pk}


def test_an_order_sent_after_the_delete_page_opened_is_not_deleted(rf, floor, django_user_model):
    from django.contrib import admin
    from django.core.exceptions import PermissionDenied

    product = ProductFactory()
    order = purchase_order_create(supplier=product.supplier, lines=[OrderLine(product, Decimal(2))], location=floor)
    stale = PurchaseOrder.objects.get(pk=order.pk)  # read as a draft by the delete page
    purchase_order_send(order=order)
    request = rf.post("/")
    request.user = django_user_model.objects.create_superuser("boss", password="x")
    with pytest.raises(PermissionDenied, match="Cancel it instead"):
        admin.site.get_model_admin(PurchaseOrder).delete_model(request, stale)
    assert PurchaseOrder.objects.filter(pk=order.pk).exists()


# F. A receipt found by its order's number -----------------------------------------------------------------


def test_receipt_admin_finds_the_receipts_of_an_order_by_its_number(admin_client, floor):
    supplier = SupplierFactory(name="供应商 甲")
    product = ProductFactory(supplier=supplier)
    orders = []
    for _ in range(2):
        order = purchase_order_create(supplier=supplier, lines=[OrderLine(product, Decimal(5))], location=floor)
        purchase_order_send(order=order)
        orders.append(order)
    first = receipt_start(order=orders[0])
    receipt_scan(receipt=first, code=product.barcode)
    receipt_post(receipt=first)
    second = receipt_start(order=orders[0])  # the rest, delivered later
    other = receipt_start(order=orders[1])
    direct = receipt_start(location=floor, reason="样品")
    url = reverse("admin:stock_receipt_changelist")

    def found(term: str) -> set[Receipt]:
        return set(admin_client.get(url, {"q": term}).context["cl"].result_list)

    number = orders[0].number
    for term in (number, number.lower(), f" PO{orders[0].pk} "):
        assert found(term) == {first, second}, term
    assert found(orders[1].number) == {other}
    # Without the prefix a number is the receipt's own, as before.
    assert found(str(orders[0].pk)) == {r for r in (first, second, other, direct) if r.pk == orders[0].pk}
    assert found(str(direct)) == {direct}
    assert found(f"PO{orders[1].pk + 1000}") == set()


# G. The lines of a draft follow the user's permission on its order ----------------------------------------


def line_permissions(rf, user, order: PurchaseOrder | None) -> tuple[bool, bool, bool, bool]:
    from django.contrib import admin

    request = rf.get("/")
    request.user = user
    [inline] = admin.site.get_model_admin(PurchaseOrder).get_inline_instances(request, order)
    return (
        inline.has_view_permission(request, order),
        inline.has_add_permission(request, order),
        inline.has_change_permission(request, order),
        inline.has_delete_permission(request, order),
    )


def test_a_user_who_may_only_view_orders_cannot_change_the_lines_of_a_draft(rf, client, django_user_model, floor):
    from django.contrib.auth.models import Permission

    product = ProductFactory(name="酱油")
    draft = purchase_order_create(supplier=product.supplier, lines=[OrderLine(product, Decimal(12))], location=floor)
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.set(
        Permission.objects.filter(content_type__app_label="stock", codename="view_purchaseorder")
    )
    viewer = django_user_model.objects.get(pk=viewer.pk)
    assert line_permissions(rf, viewer, draft) == (True, False, False, False)

    client.force_login(viewer)
    url = reverse("admin:stock_purchaseorder_change", args=[draft.pk])
    page = client.get(url)
    [lines] = page.context["inline_admin_formsets"]
    assert (lines.has_add_permission, lines.has_change_permission, lines.has_delete_permission) == (False,) * 3
    assert "酱油" in page.content.decode() and 'name="lines-0-quantity"' not in page.content.decode()
    management = lines.formset.management_form
    data = {management.add_prefix(name): management[name].value() for name in management.fields}
    data.update({"lines-0-id": draft.lines.get().pk, "lines-0-quantity": "99", "lines-0-DELETE": "on"})
    assert client.post(url, data).status_code == 403
    assert draft.lines.get().quantity == 12


@pytest.mark.parametrize("role", [BUYER, MANAGER])
def test_buyers_and_managers_keep_editing_the_lines_of_drafts_only(rf, django_user_model, floor, role):
    user = django_user_model.objects.create_user(role.lower(), password="x")
    user_set_role(user=user, role=role)
    user = django_user_model.objects.get(pk=user.pk)
    product = ProductFactory()
    order = purchase_order_create(supplier=product.supplier, lines=[OrderLine(product, Decimal(12))], location=floor)
    assert line_permissions(rf, user, None) == (True, True, True, True)  # the add page
    assert line_permissions(rf, user, order) == (True, True, True, True)
    sent = purchase_order_send(order=order)
    assert line_permissions(rf, user, sent) == (True, False, False, False)
