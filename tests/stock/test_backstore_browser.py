"""The receiving and counting pages in real headless Chromium at phone size, scanned by keyboard wedge."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from stock.models import CountLine, ReceiptLine
from stock.purchasing import OrderLine, purchase_order_create, purchase_order_send
from stock.receiving import receipt_start
from stock.stocktake import count_session_start
from tests.browser import CHROMIUM_ARGS, admin_login
from tests.factories import ProductFactory

playwright = pytest.importorskip("playwright.sync_api")

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def metrics_loaded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        import supermarket.metrics  # noqa: F401


@pytest.fixture
def phone(metrics_loaded, monkeypatch, transactional_db, live_server):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    get_user_model().objects.create_superuser("lager", password="lager-pass-1")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        page.set_default_timeout(30_000)
        admin_login(page, live_server.url, "lager", "lager-pass-1")
        yield page
        browser.close()


def wedge(page, selector: str, code: str) -> None:
    page.focus(selector)
    page.keyboard.type(code)
    page.keyboard.press("Enter")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_receiving_on_a_phone_scans_flags_and_keeps_focus(phone, live_server, floor):
    water, extra = ProductFactory(name="矿泉水"), ProductFactory(name="不在订单")
    order = purchase_order_create(supplier=water.supplier, location=floor, lines=[OrderLine(water, Decimal(3))])
    receipt = receipt_start(order=purchase_order_send(order=order))
    phone.goto(f"{live_server.url}/stock/receiving/{receipt.pk}/")
    wedge(phone, "#receipt-scan", water.barcode)
    phone.wait_for_selector("#sheet .flash.ok")
    wedge(phone, "#receipt-scan", water.barcode)
    phone.wait_for_function("() => document.querySelector('#sheet input[name=quantity]')?.value === '2'")
    wedge(phone, "#receipt-scan", extra.barcode)
    phone.wait_for_selector("#sheet tr.state-not-on-order")
    assert phone.input_value("#receipt-scan") == ""
    assert phone.evaluate("document.activeElement.id") == "receipt-scan"
    wedge(phone, "#receipt-scan", "6900000000000")
    phone.wait_for_selector("#sheet .flash.error")
    assert "check digit" in phone.inner_text("#sheet .flash.error")
    # The sheet fits the phone: no sideways scrolling of the page.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    assert {line.product: line.quantity for line in ReceiptLine.objects.all()} == {water: 2, extra: 1}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_counting_on_a_phone_adds_and_undoes(phone, live_server, floor):
    soap = ProductFactory(name="肥皂")
    session = count_session_start(location=floor)
    phone.goto(f"{live_server.url}/stock/counts/{session.pk}/")
    wedge(phone, "#count-scan", soap.barcode)
    phone.wait_for_selector("#entries li:has-text('肥皂')")
    phone.fill("input[name=quantity]", "11")
    wedge(phone, "#count-scan", soap.barcode)
    phone.wait_for_function("() => document.querySelectorAll('#entries ol.entries li').length === 2")
    phone.click("#entries button:has-text('Undo last')")
    phone.wait_for_function("() => document.querySelectorAll('#entries ol.entries li').length === 1")
    assert CountLine.objects.get().counted == 1
