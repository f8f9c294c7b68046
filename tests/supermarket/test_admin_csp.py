"""The admin's export, import and history pages work under the project's Content-Security-Policy (script-src and
style-src 'self'): no inline event handler, <style> element or style attribute, which the browser would refuse."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.browser import CHROMIUM_ARGS, admin_login
from tests.catalog.test_import_files import code, csv_bytes, row
from tests.factories import ProductFactory
from tests.security.test_hardening import INLINE


@pytest.fixture
def boss(django_user_model):
    return django_user_model.objects.create_superuser("boss", password="boss-pass-1")


@pytest.fixture
def uploads_dir(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.mark.django_db
def test_export_import_and_history_pages_carry_no_inline_script_or_style(client, boss, uploads_dir):
    client.force_login(boss)
    product = ProductFactory(barcode=code(1), name="旧名")
    preview = client.post(
        reverse("admin:catalog_product_import"),
        {"file": SimpleUploadedFile("supplier.csv", csv_bytes([row(1, name="新名", category=product.category.name)]))},
        follow=True,
    )
    pages = {
        "export": client.get(reverse("admin:catalog_product_export")),
        "stock export": client.get(reverse("admin:stock_stocklevel_export")),
        "import": client.get(reverse("admin:catalog_product_import")),
        "import preview": preview,
        "history": client.get(reverse("admin:catalog_product_history", args=[product.pk])),
    }
    assert 'class="import-old"' in pages["import preview"].content.decode()
    for name, page in pages.items():
        assert page.status_code == 200, name
        html = page.content.decode()
        assert [label for pattern, label in INLINE if pattern.search(html)] == [], name
    for path in ["admin/js/export_select_all.js", "admin/css/supermarket.css"]:
        assert finders.find(path), path


# In real Chromium: the select-all box works and the browser reports no violation --------------------------------


@pytest.fixture(scope="session")
def metrics_loaded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        import supermarket.metrics  # noqa: F401


@pytest.fixture
def chinese_admin(metrics_loaded, monkeypatch, transactional_db, live_server, uploads_dir):
    """A superuser's headless Chromium in Chinese; page.violations collects what the CSP refused."""
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    get_user_model().objects.create_superuser("boss", password="boss-pass-1")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(extra_http_headers={"Accept-Language": "zh-hans"})
        page.set_default_timeout(30_000)
        page.violations = []
        page.on(
            "console", lambda m: "Content Security Policy" in m.text and page.violations.append(f"{page.url} {m.text}")
        )
        admin_login(page, live_server.url, "boss", "boss-pass-1")
        yield page
        browser.close()


FIELDS = ".selectable-field-export-row[resource-index='0'] input[type=checkbox]:not(.select-toggle)"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_select_all_unticks_and_ticks_every_export_field_without_a_csp_violation(chinese_admin, live_server):
    page = chinese_admin
    ProductFactory(selling_price=Decimal("3.50"))
    page.goto(f"{live_server.url}{reverse('admin:catalog_product_export')}")
    fields = page.locator(FIELDS)
    assert fields.count() > 2
    ticked = f'() => [...document.querySelectorAll("{FIELDS}")].map(box => box.checked)'
    assert set(page.evaluate(ticked)) == {True}

    page.click("input.select-toggle")
    assert set(page.evaluate(ticked)) == {False}
    page.get_by_text("全选", exact=True).click()  # the label ticks its box too
    assert set(page.evaluate(ticked)) == {True}
    assert page.locator("label.select-all").evaluate("label => getComputedStyle(label).fontWeight") == "700"
    assert page.violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_import_preview_and_history_pages_are_styled_without_a_csp_violation(chinese_admin, live_server, tmp_path):
    page = chinese_admin
    product = ProductFactory(barcode=code(1), name="旧名")
    upload = tmp_path / "supplier.csv"
    upload.write_bytes(csv_bytes([row(1, name="新名", category=product.category.name)]))

    page.goto(f"{live_server.url}{reverse('admin:catalog_product_import')}")
    page.set_input_files("input[type=file]", str(upload))
    page.click("#content-main input[type=submit]")
    old = page.locator("#import-changes .import-old").first
    assert old.inner_text() == "旧名"
    assert "line-through" in old.evaluate("span => getComputedStyle(span).textDecorationLine")

    page.goto(f"{live_server.url}{reverse('admin:catalog_product_history', args=[product.pk])}")
    paginator = page.locator("#change-history + .paginator")
    assert paginator.evaluate("p => getComputedStyle(p).borderTopStyle") == "none"
    assert page.violations == []
