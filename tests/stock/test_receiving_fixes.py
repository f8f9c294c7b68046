"""Receiving: average cost under concurrent receipts, case labels of goods sold by weight, expired goods, one lot
with two expiry dates, discarding a draft and starting a direct delivery once per form."""

import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from catalog.models import Product
from stock import receiving, services
from stock.models import MovementKind, PurchaseOrder, Receipt, ReceiptLine, StockLevel, StockMovement
from stock.purchasing import OrderLine, purchase_order_cancel, purchase_order_create, purchase_order_send
from stock.receiving import (
    receipt_discard,
    receipt_line_update,
    receipt_post,
    receipt_scan,
    receipt_start,
)
from stock.services import Move, stock_move_batch
from stock.stocktake import count_add, count_session_start
from supermarket.roles import CASHIER, STOCK_CLERK, user_set_role
from tests.factories import ProductFactory
from tests.stock.test_backstore_concurrency import meet_once, run_threads


def yymmdd(day) -> str:
    return f"{day:%y%m%d}"


def today():
    return timezone.localdate()


def sent_order(product, location, quantity, unit_cost) -> PurchaseOrder:
    order = purchase_order_create(
        supplier=product.supplier, location=location, lines=[OrderLine(product, Decimal(quantity), unit_cost)]
    )
    return purchase_order_send(order=order)


def receipt_of(product, location, quantity, unit_cost) -> Receipt:
    """A draft receipt of `quantity` at `unit_cost`, scanned and corrected as on the phone page."""
    receipt = receipt_start(order=sent_order(product, location, quantity, unit_cost))
    line = receipt_scan(receipt=receipt, code=product.barcode).line
    receipt_line_update(line=line, quantity=Decimal(quantity))
    return receipt


def label(product, *, lot="L1", expiry=None, count=None, weight_grams=None) -> str:
    """A printed GS1-128 label naming the product's own GTIN (AI 02 with a count, else AI 01)."""
    code = f"(02)0{product.barcode}(37){count}" if count else f"(01)0{product.barcode}"
    if weight_grams is not None:
        code += f"(3103){weight_grams:06d}"
    code += f"(17){yymmdd(expiry or today() + timedelta(days=30))}"
    return code + f"(10){lot}"


# A. The moving average cost of two receipts posted at once ----------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("second_place", ["floor", "backroom"])
@pytest.mark.parametrize("pause_after", ["moving_average_cost", "stock_move_batch"])
def test_two_receipts_of_one_product_posted_at_once_both_count_in_the_average_cost(
    floor, backroom, monkeypatch, second_place, pause_after
):
    product = ProductFactory(purchase_price=Decimal("10.0000"))
    receipts = [
        receipt_of(product, floor, 100, Decimal("12.0000")),
        receipt_of(product, {"floor": floor, "backroom": backroom}[second_place], 100, Decimal("14.0000")),
    ]
    # Each posting pauses once it has its average, or once its stock is in, until the other gets as far: read
    # unlocked, both would average 0 on hand at 10 and the one saved last would win. Either way the second reads the
    # price and on-hand the first left, its own receipt not counted twice.
    monkeypatch.setattr(
        receiving, pause_after, meet_once(threading.Barrier(2, timeout=3), getattr(receiving, pause_after))
    )
    assert run_threads(lambda i: receipt_post(receipt=receipts[i]), 2) == []
    # 100 at 12, then (100 × 12 + 100 × 14) / 200, whichever came first.
    assert Product.objects.get(pk=product.pk).purchase_price == Decimal("13.0000")


def wait_for_a_lock_wait(seconds: float = 5) -> None:
    """Return once another transaction waits for a row lock (or after `seconds`)."""
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_a_receipt_posted_while_the_till_sells_the_product_there_does_not_deadlock(floor, monkeypatch):
    product = ProductFactory(purchase_price=Decimal("10.0000"))
    stock_move_batch(moves=[Move(product, floor, Decimal(10))], kind=MovementKind.RECEIPT)
    receipt = receipt_of(product, floor, 10, Decimal("14.0000"))
    # The sale holds its level row until the receipt waits for it, then commits: its ledger row's product reference,
    # checked at commit, would wait for the product a receipt locking products before levels would hold.
    sale_locked, till = threading.Event(), threading.local()
    real_lock_levels = services._lock_levels

    def lock_levels(moves):
        levels = real_lock_levels(moves)
        if getattr(till, "selling", False):
            sale_locked.set()
            wait_for_a_lock_wait()
        return levels

    monkeypatch.setattr(services, "_lock_levels", lock_levels)

    def work(i):
        if i == 0:
            till.selling = True
            stock_move_batch(moves=[Move(product, floor, Decimal(-1))], kind=MovementKind.SALE)
        else:
            sale_locked.wait(5)
            receipt_post(receipt=receipt)

    assert run_threads(work, 2) == []
    assert StockLevel.objects.get(product=product, location=floor).on_hand == 19
    # The sale came first: (9 × 10 + 10 × 14) / 19.
    assert Product.objects.get(pk=product.pk).purchase_price == Decimal("12.1053")


# B. Case labels of goods sold by weight ------------------------------------------------------


@pytest.mark.django_db
def test_a_case_label_of_goods_sold_by_weight_counts_its_net_weight_not_its_items(floor):
    chicken = ProductFactory(unit="kg", lot_tracked=True)
    eggs = ProductFactory(lot_tracked=True)
    receipt = receipt_start(location=floor, reason="delivery note only")
    ten_birds = label(chicken, count=10, weight_grams=12500)  # (02)…(37)10(3103)012500: 10 birds, 12.5 kg
    assert receipt_scan(receipt=receipt, code=ten_birds).added == Decimal("12.5")
    # Goods sold by the piece take the count, whatever the case weighs.
    assert receipt_scan(receipt=receipt, code=label(eggs, count=10, weight_grams=12500)).added == 10
    # Counting reads a label the same way.
    session = count_session_start(location=floor)
    assert count_add(session=session, code=ten_birds).quantity == Decimal("12.5")


# C. Goods already expired ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_case_label_of_goods_already_expired_is_refused_at_scan(floor):
    milk = ProductFactory(lot_tracked=True)
    receipt = receipt_start(location=floor, reason="delivery note only")
    past = today() - timedelta(days=30)
    with pytest.raises(ValidationError, match=f"lot L1 expired on {past}: expired goods cannot be received"):
        receipt_scan(receipt=receipt, code=label(milk, expiry=past))
    assert not receipt.lines.exists()
    # Goods expiring today can still be received (and marked down).
    assert receipt_scan(receipt=receipt, code=label(milk, expiry=today())).line.expiry_date == today()


@pytest.mark.django_db
def test_an_expiry_already_past_is_refused_when_a_line_is_corrected(floor):
    milk = ProductFactory(lot_tracked=True)
    receipt = receipt_start(location=floor, reason="delivery note only")
    line = receipt_scan(receipt=receipt, code=label(milk)).line
    yesterday = today() - timedelta(days=1)
    with pytest.raises(ValidationError, match=f"expired on {yesterday}"):
        receipt_line_update(line=line, quantity=Decimal(3), lot_code="L2", expiry_date=yesterday)
    line.refresh_from_db()
    assert (line.quantity, line.lot_code, line.expiry_date) == (1, "L1", today() + timedelta(days=30))


@pytest.mark.django_db
def test_a_draft_whose_goods_expired_since_they_were_scanned_is_not_posted(floor):
    milk = ProductFactory(lot_tracked=True)
    receipt = receipt_start(location=floor, reason="delivery note only")
    receipt_scan(receipt=receipt, code=label(milk, expiry=today()))
    ReceiptLine.objects.filter(receipt=receipt).update(expiry_date=today() - timedelta(days=1))  # a night passed
    with pytest.raises(ValidationError, match="expired goods cannot be received"):
        receipt_post(receipt=receipt)
    assert not StockMovement.objects.filter(product=milk).exists()
    assert Receipt.objects.get(pk=receipt.pk).status == Receipt.Status.DRAFT


@pytest.mark.django_db
def test_the_receiving_page_says_why_an_expired_label_is_refused(admin_client, floor):
    milk = ProductFactory(lot_tracked=True, name="鲜奶 Milk")
    receipt = receipt_start(location=floor, reason="delivery note only")
    past = today() - timedelta(days=30)
    answer = admin_client.post(
        reverse("stock:receipt-scan", args=[receipt.pk]),
        {"code": label(milk, expiry=past)},
        HTTP_HX_REQUEST="true",
    )
    assert answer.status_code == 422
    assert f"鲜奶 Milk, lot L1 expired on {past}" in answer.content.decode()


# D. One lot, two expiry dates ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_second_label_of_a_lot_with_another_expiry_is_refused_naming_both_dates(floor):
    yoghurt = ProductFactory(lot_tracked=True, name="酸奶 Yoghurt")
    receipt = receipt_start(location=floor, reason="delivery note only")
    first, second = today() + timedelta(days=400), today() + timedelta(days=60)
    receipt_scan(receipt=receipt, code=label(yoghurt, count=12, expiry=first))
    with pytest.raises(ValidationError) as refused:
        receipt_scan(receipt=receipt, code=label(yoghurt, count=12, expiry=second))
    assert refused.value.messages == [
        f"酸奶 Yoghurt, lot L1 is on this receipt with expiry {first}, and this label says {second}."
    ]
    line = receipt.lines.get()
    assert (line.quantity, line.expiry_date) == (12, first)
    # The same expiry again adds up.
    receipt_scan(receipt=receipt, code=label(yoghurt, count=12, expiry=first))
    assert receipt.lines.get().quantity == 24


# E. Discarding a draft; a direct delivery started once per form -----------------------------


@pytest.mark.django_db
def test_a_draft_for_an_order_cancelled_since_can_be_discarded_with_its_lines(floor):
    product = ProductFactory()
    order = sent_order(product, floor, 5, None)
    receipt = receipt_start(order=order)
    receipt_scan(receipt=receipt, code=product.barcode)
    purchase_order_cancel(order=order)
    receipt_discard(receipt=receipt)
    assert not Receipt.objects.filter(pk=receipt.pk).exists()
    assert not ReceiptLine.objects.exists()
    assert not StockMovement.objects.filter(product=product).exists()
    with pytest.raises(ValidationError, match=f"{receipt} was discarded"):
        receipt_discard(receipt=receipt)  # a second click
    with pytest.raises(ValidationError, match=f"{receipt} was discarded"):
        receipt_scan(receipt=receipt, code=product.barcode)  # a phone still showing it


@pytest.mark.django_db
def test_a_posted_receipt_cannot_be_discarded(floor):
    product = ProductFactory()
    receipt = receipt_start(location=floor, reason="delivery note only")
    receipt_scan(receipt=receipt, code=product.barcode)
    receipt_post(receipt=receipt)
    with pytest.raises(ValidationError, match="already posted"):
        receipt_discard(receipt=receipt)
    assert Receipt.objects.get(pk=receipt.pk).lines.count() == 1
    assert StockLevel.objects.get(product=product, location=floor).on_hand == 1


@pytest.mark.django_db
def test_a_stock_clerk_discards_a_draft_from_its_page_after_a_confirmation(client, django_user_model, floor):
    clerk = django_user_model.objects.create_user("clerk")
    user_set_role(user=clerk, role=STOCK_CLERK)
    client.force_login(clerk)
    receipt = receipt_start(location=floor, reason="started twice")
    page = client.get(reverse("stock:receipt-detail", args=[receipt.pk])).content.decode()
    discard = reverse("stock:receipt-discard", args=[receipt.pk])
    assert f'action="{discard}"' in page
    assert f'data-confirm="Discard {receipt} and everything scanned into it? This cannot be undone."' in page
    response = client.post(discard, follow=True)
    assert response.redirect_chain == [(reverse("stock:receiving-list"), 302)]
    assert f"{receipt} discarded." in response.content.decode()
    assert not Receipt.objects.exists()
    again = client.post(discard, follow=True)
    assert f"{receipt} was discarded." in again.content.decode()


@pytest.mark.django_db
def test_only_who_may_receive_may_discard(client, django_user_model, floor):
    cashier = django_user_model.objects.create_user("cashier")
    user_set_role(user=cashier, role=CASHIER)
    client.force_login(cashier)
    receipt = receipt_start(location=floor, reason="delivery note only")
    assert client.post(reverse("stock:receipt-discard", args=[receipt.pk])).status_code == 403
    assert Receipt.objects.filter(pk=receipt.pk).exists()


@pytest.mark.django_db
def test_a_posted_receipt_page_offers_no_discard(admin_client, floor):
    product = ProductFactory()
    receipt = receipt_start(location=floor, reason="delivery note only")
    receipt_scan(receipt=receipt, code=product.barcode)
    receipt_post(receipt=receipt)
    page = admin_client.get(reverse("stock:receipt-detail", args=[receipt.pk])).content.decode()
    assert reverse("stock:receipt-discard", args=[receipt.pk]) not in page


@pytest.mark.django_db
def test_start_receiving_clicked_twice_starts_one_draft(admin_client, floor):
    form = admin_client.get(reverse("stock:receiving-list")).context["direct_form"]
    posted = {"location": floor.pk, "reason": "送货单补录", "token": str(form["token"].value())}
    first = admin_client.post(reverse("stock:receiving-start"), posted)
    second = admin_client.post(reverse("stock:receiving-start"), posted)
    receipt = Receipt.objects.get()
    assert first.url == second.url == reverse("stock:receipt-detail", args=[receipt.pk])
    # A fresh form starts another.
    posted["token"] = str(admin_client.get(reverse("stock:receiving-list")).context["direct_form"]["token"].value())
    admin_client.post(reverse("stock:receiving-start"), posted)
    assert Receipt.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_direct_delivery_started_twice_at_the_same_moment_is_one_draft(floor):
    token = uuid.uuid4()
    started, refused = [], []

    def start(_i):
        try:
            started.append(receipt_start(location=floor, reason="double click", token=token))
        except ValidationError as exc:
            refused.extend(exc.messages)  # the other is still starting it

    assert run_threads(start, 2) == []
    assert Receipt.objects.count() == 1
    assert {r.pk for r in started} == {Receipt.objects.get().pk}
    assert refused in ([], ["This delivery was started already: find it under Receipts in progress."])
