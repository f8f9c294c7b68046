"""The till in real headless Chromium: keyboard-wedge scanning, a scanner burst, payment and the receipt."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from checkout.models import Register, Sale
from stock.models import StockLevel
from tests.browser import CHROMIUM_ARGS
from tests.factories import ProductFactory

playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="session")
def metrics_loaded(django_db_setup, django_db_blocker):
    # Importing supermarket.metrics registers its collector, which reads the database once; let that happen here
    # rather than in live_server's setup (which builds the middleware), where database access is blocked.
    with django_db_blocker.unblock():
        import supermarket.metrics  # noqa: F401


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls between browser steps are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def scan(page, code: str) -> None:
    # The scan field takes the focus by itself (once the deferred till script has run after a page load).
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'scan'")
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def wait_idle(page, lines: int) -> None:
    page.wait_for_function(
        "n => document.getElementById('till').dataset.pending === '0'"
        " && document.querySelectorAll('#basket tr.line').length === n",
        arg=lines,
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_cashier_scans_a_burst_pays_cash_and_gets_a_receipt(metrics_loaded, live_server, browser_page, floor):
    from stock.models import MovementKind
    from stock.services import Move, stock_move_batch
    from supermarket.roles import CASHIER, user_set_role

    user_set_role(user=get_user_model().objects.create_user("kasse", password="kasse-pass-1"), role=CASHIER)
    Register.objects.create(code="T01", name="收银台 1", location=floor)
    first = ProductFactory.create_batch(3, selling_price=Decimal("2.50"))
    burst = ProductFactory.create_batch(10, selling_price=Decimal("1.10"))
    products = first + burst
    stock_move_batch(moves=[Move(p, floor, Decimal(20)) for p in products], kind=MovementKind.RECEIPT)
    page = browser_page

    page.goto(f"{live_server.url}/checkout/")
    page.fill("#id_username", "kasse")
    page.fill("#id_password", "kasse-pass-1")
    page.press("#id_password", "Enter")
    page.wait_for_url("**/checkout/register/")
    page.select_option("select[name=register]", label="T01 收银台 1")
    page.click("main button[type=submit]")
    page.fill("#id_opening_float", "200.00")
    page.press("#id_opening_float", "Enter")
    page.wait_for_selector("#scan")

    a, b, c = first
    for product in (a, b, a, c):
        scan(page, product.barcode)
    page.keyboard.press("Enter")  # a stray second Enter adds nothing
    wait_idle(page, 3)
    assert page.locator("#basket tr.line td.qty").all_inner_texts() == ["2", "1", "1"]

    # Ten codes as fast as the browser can type them, while earlier requests are still in flight.
    page.keyboard.type("".join(p.barcode + "\n" for p in burst), delay=0)
    wait_idle(page, 13)
    names = page.locator("#basket tr.line td.name").all_inner_texts()
    assert names == [p.name for p in (a, b, c, *burst)]
    assert page.locator("#basket tr.line td.qty").all_inner_texts() == ["2", "1", "1"] + ["1"] * 10
    total = Decimal("2.50") * 4 + Decimal("1.10") * 10
    assert page.inner_text("#total") == str(total)
    assert page.inner_text("#item-count") == "14"
    assert not page.is_visible("#pay-panel")  # until F9

    # Too little cash: the panel stays open with what was typed, the basket says why, nothing is sold.
    page.keyboard.press("F9")
    page.wait_for_selector("#pay-cash:focus")
    assert page.input_value("#pay-cash") == str(total)
    page.keyboard.type("1")  # the total is selected: typing replaces it
    page.keyboard.press("Enter")
    page.wait_for_selector("#basket[data-state=error]")
    assert page.is_visible("#pay-panel")
    assert page.input_value("#pay-cash") == "1"
    assert not Sale.objects.exists()

    # Back to scanning: the panel closes, and opens again empty, for the basket's new total.
    page.keyboard.press("Escape")
    scan(page, a.barcode)
    page.wait_for_function("() => document.querySelector('#basket tr.line td.qty').textContent === '3'")
    assert not page.is_visible("#pay-panel")
    total += Decimal("2.50")
    page.keyboard.press("F9")
    page.wait_for_selector("#pay-cash:focus")
    assert page.input_value("#pay-cash") == str(total)
    assert page.inner_text("#pay-total") == str(total)

    # A scan answered while the panel is open (F9 pressed before the last item's answer): the panel stays open for
    # the new total, the focus stays in it, and the tender typed next goes to the payment.
    page.evaluate(
        "code => { document.getElementById('scan').value = code;"
        " document.getElementById('scan-form').requestSubmit(); }",
        b.barcode,
    )
    page.wait_for_function("() => document.querySelectorAll('#basket tr.line td.qty')[1].textContent === '2'")
    total += Decimal("2.50")
    assert page.is_visible("#pay-panel")
    assert page.inner_text("#pay-total") == str(total)
    assert page.input_value("#pay-cash") == str(total)
    assert page.evaluate("document.activeElement.id") == "pay-cash"
    page.keyboard.type("50")
    page.keyboard.press("Enter")
    page.wait_for_url("**/receipt/")
    sale = Sale.objects.get()
    assert page.inner_text("#sale-number") == sale.number
    assert page.inner_text("#receipt-total") == f"¥{total}"
    assert page.inner_text("#receipt-change") == f"¥{Decimal('50') - total}"
    assert page.locator(".receipt-line").count() == 13

    sold = {a.pk: 3, b.pk: 2, c.pk: 1} | {p.pk: 1 for p in burst}
    for product in products:
        assert StockLevel.objects.get(product=product, location=floor).on_hand == 20 - sold[product.pk]
