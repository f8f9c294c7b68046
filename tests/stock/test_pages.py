from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog import gtin
from stock.models import (
    CountLine,
    CountSession,
    Lot,
    MovementKind,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    ReplenishmentSuggestion,
    StockLevel,
    StockMovement,
    Transfer,
    WriteOff,
)
from stock.purchasing import OrderLine, purchase_order_create, purchase_order_send
from stock.services import Move, stock_move_batch
from stock.stocktake import count_session_start
from tests.factories import ProductFactory, ean13

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def manager(client, django_user_model):
    user = django_user_model.objects.create_superuser("manager", password="x")
    client.force_login(user)
    return user


@pytest.fixture
def order(floor):
    product = ProductFactory(name="矿泉水 Water")
    order = purchase_order_create(supplier=product.supplier, location=floor, lines=[OrderLine(product, Decimal(4))])
    return purchase_order_send(order=order)


def test_pages_need_login_and_permission(client, django_user_model, floor):
    url = reverse("stock:receiving-list")
    assert client.get(url).status_code == 302
    client.force_login(django_user_model.objects.create_user("cashier"))
    assert client.get(url).status_code == 403
    assert client.post(reverse("stock:receiving-start"), {"location": floor.pk, "reason": "x"}).status_code == 403
    assert not Receipt.objects.exists()


def test_receiving_an_order_by_scanning_on_the_phone_page(client, manager, order):
    product = order.lines.get().product
    response = client.post(reverse("stock:receiving-start"), {"order": order.pk})
    receipt = Receipt.objects.get(order=order)
    assert response.url == reverse("stock:receipt-detail", args=[receipt.pk])
    page = client.get(response.url)
    assert b'id="receipt-scan"' in page.content and b"camera-scan" in page.content

    scan = reverse("stock:receipt-scan", args=[receipt.pk])
    fragment = client.post(scan, {"code": product.barcode}, **HTMX)
    assert fragment.status_code == 200
    assert fragment.content.lstrip().startswith(b'<section id="sheet">')
    assert "+1 矿泉水 Water" in fragment.content.decode()

    unknown = client.post(scan, {"code": ean13(777_777)}, **HTMX)
    assert unknown.status_code == 422
    assert "No product has the code" in unknown.content.decode()
    assert ReceiptLine.objects.get().quantity == 1

    line = ReceiptLine.objects.get()
    client.post(reverse("stock:receipt-line-update", args=[line.pk]), {"quantity": "4"}, **HTMX)
    response = client.post(reverse("stock:receipt-post", args=[receipt.pk]))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.RECEIVED
    assert StockLevel.objects.get(product=product).on_hand == 4


def test_counting_page_adds_and_undoes(client, manager, floor):
    product = ProductFactory(name="酱油 Soy sauce")
    stock_move_batch(moves=[Move(product, floor, Decimal(9))], kind=MovementKind.RECEIPT)
    session = count_session_start(location=floor)
    add = reverse("stock:count-add", args=[session.pk])
    client.post(add, {"code": product.barcode}, **HTMX)
    fragment = client.post(add, {"code": product.barcode, "quantity": "7"}, **HTMX)
    assert fragment.content.lstrip().startswith(b'<section id="entries">')
    assert CountLine.objects.get().counted == 8
    refused = client.post(add, {"code": product.barcode, "quantity": "-1"}, **HTMX)
    assert refused.status_code == 422 and "more than zero" in refused.content.decode()
    client.post(reverse("stock:count-undo", args=[session.pk]), **HTMX)
    assert CountLine.objects.get().counted == 1

    review = client.get(reverse("stock:count-review", args=[session.pk]))
    assert "酱油 Soy sauce" in review.content.decode()
    client.post(reverse("stock:count-post", args=[session.pk]))
    assert StockLevel.objects.get(product=product).on_hand == 1
    again = client.post(reverse("stock:count-post", args=[session.pk]), follow=True)
    assert "posted and read-only" in again.content.decode()
    assert StockMovement.objects.filter(kind=MovementKind.STOCKTAKE).count() == 1


def test_replenishment_page_orders_and_dismisses(client, manager, floor):
    first, second = ProductFactory(safety_stock=Decimal(5)), ProductFactory(safety_stock=Decimal(5))
    for product in (first, second):
        stock_move_batch(moves=[Move(product, floor, Decimal(2))], kind=MovementKind.RECEIPT)
        stock_move_batch(moves=[Move(product, floor, Decimal(-1))], kind=MovementKind.SALE)
    page = client.get(reverse("stock:replenishment"))
    assert first.name in page.content.decode() and second.name in page.content.decode()
    to_order, to_dismiss = (ReplenishmentSuggestion.objects.get(product=p) for p in (first, second))

    blank = client.post(reverse("stock:suggestion-dismiss", args=[to_dismiss.pk]), {"reason": ""}, **HTMX)
    assert blank.status_code == 422
    gone = client.post(reverse("stock:suggestion-dismiss", args=[to_dismiss.pk]), {"reason": "停产"}, **HTMX)
    assert gone.status_code == 200 and gone.content == b""
    client.post(reverse("stock:replenishment-order"), {"suggestion": [to_order.pk]})
    order = PurchaseOrder.objects.get()
    assert list(order.lines.values_list("product", "quantity")) == [(first.pk, Decimal(4))]
    assert ReplenishmentSuggestion.objects.get(pk=to_dismiss.pk).dismissed_reason == "停产"


def test_near_expiry_report_and_expired_write_off(client, manager, floor):
    milk = ProductFactory(
        name="鲜奶 Milk", lot_tracked=True, purchase_price=Decimal("4.0000"), selling_price=Decimal("6.00")
    )
    today = timezone.localdate()
    soon = Lot.objects.create(product=milk, code="SOON", expiry_date=today + timedelta(days=1))
    gone = Lot.objects.create(product=milk, code="GONE", expiry_date=today - timedelta(days=1))
    Lot.objects.create(product=milk, code="LATER", expiry_date=today + timedelta(days=30))
    stock_move_batch(moves=[Move(milk, floor, Decimal(5), soon), Move(milk, floor, Decimal(2), gone)], kind="receipt")
    page = client.get(reverse("stock:near-expiry"), {"days": 3}).content.decode()
    assert "SOON" in page and "GONE" in page and "LATER" not in page
    assert "¥20.00" in page and "¥4.20" in page  # value at cost; 30% off 6.00
    client.post(reverse("stock:expired-write-off"), {"location": floor.pk})
    assert StockLevel.objects.get(product=milk, lot=gone).on_hand == 0
    assert StockLevel.objects.get(product=milk, lot=soon).on_hand == 5


def form_token(client, name: str) -> str:
    """The one-time token of a freshly opened document form, as the browser would send it back."""
    return str(client.get(reverse(name)).context["form"]["token"].value())


def test_transfer_and_write_off_forms(client, manager, floor, backroom):
    rice = ProductFactory()
    stock_move_batch(moves=[Move(rice, backroom, Decimal(10))], kind=MovementKind.RECEIPT)
    response = client.post(
        reverse("stock:transfer-new"),
        {
            "source": backroom.pk,
            "destination": floor.pk,
            "lines": f"{rice.barcode} 4",
            "token": form_token(client, "stock:transfer-new"),
        },
    )
    assert response.status_code == 302
    assert StockLevel.objects.get(product=rice, location=floor).on_hand == 4
    write_off = {"location": floor.pk, "reason": "damaged", "token": form_token(client, "stock:write-off-new")}
    bad = client.post(
        reverse("stock:write-off-new"),
        {**write_off, "lines": f"{rice.barcode} 2\n{ean13(55)} 1\n{rice.barcode} x"},
    )
    text = bad.content.decode()
    assert "Line 2: No product has the code" in text and "Line 3: x is not a quantity" in text
    too_many = client.post(reverse("stock:write-off-new"), {**write_off, "lines": f"{rice.barcode} 5"})
    assert "4 left, 5 requested" in too_many.content.decode()
    assert not StockMovement.objects.filter(kind=MovementKind.WRITE_OFF).exists()


def test_write_off_lines_are_checked_as_quantities_of_their_product(client, manager, floor):
    rice, meat = ProductFactory(), ProductFactory(unit="kg")
    stock_move_batch(moves=[Move(rice, floor, Decimal(10)), Move(meat, floor, Decimal(10))], kind=MovementKind.RECEIPT)
    bad = client.post(
        reverse("stock:write-off-new"),
        {
            "location": floor.pk,
            "reason": "damaged",
            "token": form_token(client, "stock:write-off-new"),
            "lines": f"{rice.barcode} 1.5\n{meat.barcode} 1.2345\n{rice.barcode} nan\n{meat.barcode} -1\n"
            f"{rice.barcode} {meat.barcode}\n{meat.barcode} 1e30",
        },
    )
    text = bad.content.decode()
    assert bad.status_code == 200
    assert f"Line 1: {rice.name} is sold by the piece: the quantity must be a whole number." in text
    assert "Line 2: Quantity has more than three decimals." in text
    assert "Line 3: Quantity must be a number." in text
    assert "Line 4: Quantity must be more than zero." in text
    assert "Line 5: Quantity is too large: at most 999999999." in text  # a second barcode pasted as the quantity
    assert "Line 6: Quantity is too large" in text
    assert not StockMovement.objects.filter(kind=MovementKind.WRITE_OFF).exists()


def test_delisted_goods_pasted_from_a_sheet_are_written_off(client, manager, floor):
    rice, meat = ProductFactory(), ProductFactory(unit="kg")
    stock_move_batch(moves=[Move(rice, floor, Decimal(5)), Move(meat, floor, Decimal(5))], kind=MovementKind.RECEIPT)
    rice.active = False
    rice.save()
    # A tab from a spreadsheet, and the full-width space of a Chinese input method.
    response = client.post(
        reverse("stock:write-off-new"),
        {
            "location": floor.pk,
            "reason": "damaged",
            "lines": f"{rice.barcode}\t2\n{meat.barcode}\u30001.25",
            "token": form_token(client, "stock:write-off-new"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert StockLevel.objects.get(product=rice, location=floor).on_hand == 3
    assert StockLevel.objects.get(product=meat, location=floor).on_hand == Decimal("3.75")


@pytest.mark.parametrize(
    "name", ["home", "receiving-list", "count-list", "replenishment", "near-expiry", "transfer-new", "write-off-new"]
)
def test_each_page_renders_in_both_languages(client, manager, order, name):
    for language in ("zh-hans", "en"):
        response = client.get(reverse(f"stock:{name}"), HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        assert b"stock/stock.css" in response.content


def test_starting_a_count_from_the_page(client, manager, floor):
    response = client.post(reverse("stock:count-list"), {"location": floor.pk, "tolerance_percent": "1.5"})
    session = CountSession.objects.get()
    assert response.url == reverse("stock:count-detail", args=[session.pk])
    assert session.tolerance_percent == Decimal("1.5")
    assert b"count-scan" in client.get(response.url).content


def test_receiving_a_cancelled_order_says_so_and_starts_nothing(client, manager, order):
    order.status = PurchaseOrder.Status.CANCELLED
    order.save(update_fields=["status"])
    page = client.post(reverse("stock:receiving-start"), {"order": order.pk}, follow=True)
    assert f"{order} is cancelled and cannot be received." in page.content.decode()
    assert not Receipt.objects.exists()


def test_a_double_submitted_transfer_or_write_off_is_posted_once(client, manager, floor, backroom):
    rice = ProductFactory()
    stock_move_batch(moves=[Move(rice, floor, Decimal(10))], kind=MovementKind.RECEIPT)
    write_off = {
        "location": floor.pk,
        "reason": "damaged",
        "lines": f"{rice.barcode} 3",
        "token": form_token(client, "stock:write-off-new"),
    }
    first = client.post(reverse("stock:write-off-new"), write_off)
    again = client.post(reverse("stock:write-off-new"), write_off, follow=True)
    assert first.status_code == 302
    assert f"{WriteOff.objects.get()} is already posted; nothing more was moved." in again.content.decode()
    transfer = {
        "source": floor.pk,
        "destination": backroom.pk,
        "lines": f"{rice.barcode} 7",  # all that is left: the repeat is not refused as a shortage either
        "token": form_token(client, "stock:transfer-new"),
    }
    for _ in range(2):
        assert client.post(reverse("stock:transfer-new"), transfer).status_code == 302
    assert (WriteOff.objects.count(), Transfer.objects.count()) == (1, 1)
    assert StockLevel.objects.get(product=rice, location=floor).on_hand == 0
    assert StockLevel.objects.get(product=rice, location=backroom).on_hand == 7
    stale = client.post(reverse("stock:write-off-new"), {**write_off, "token": ""})  # a form from before tokens
    assert "This form is out of date" in stale.content.decode()
    assert StockMovement.objects.filter(kind=MovementKind.WRITE_OFF).count() == 1


def test_starting_a_count_twice_from_the_page_lands_in_the_open_count(client, manager, floor):
    start = {"location": floor.pk, "tolerance_percent": "2"}
    first = client.post(reverse("stock:count-list"), start)
    again = client.post(reverse("stock:count-list"), start)
    session = CountSession.objects.get()
    assert first.url == again.url == reverse("stock:count-detail", args=[session.pk])
    category = ProductFactory().category
    refused = client.post(reverse("stock:count-list"), {**start, "categories": [category.pk]})
    assert f"{session} is still open and covers some of the same goods" in refused.content.decode()
    assert CountSession.objects.count() == 1


def test_counting_a_label_that_is_no_quantity_of_its_product_says_why(client, manager, floor):
    meat = ProductFactory(unit="kg", store_code="12345")
    eggs = ProductFactory(store_code="54321")
    session = count_session_start(location=floor)
    add = reverse("stock:count-add", args=[session.pk])
    zero_weight = client.post(add, {"code": f"(01)0{meat.barcode}(3103)000000"}, **HTMX)
    assert zero_weight.status_code == 422  # not a 500 from the database's check
    assert f"Code {meat.barcode}: Quantity must be more than zero." in zero_weight.content.decode()
    weighed_eggs = client.post(add, {"code": gtin.with_check_digit("23" + "54321" + "01500")}, **HTMX)
    assert weighed_eggs.status_code == 422
    assert f"{eggs.name} is sold by the piece" in weighed_eggs.content.decode()
    assert not CountLine.objects.exists()
