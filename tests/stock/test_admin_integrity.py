"""The back office's admin keeps stock and master data whole: lots stay with their product, the store keeps a default
location, the ledger and stock levels are found by any barcode without reading every row, and changes that decide
what the till charges or allows (a lot's expiry, a case barcode's pack quantity) are kept with who made them."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from catalog.models import ProductBarcode
from stock.models import Location, Lot, MovementKind, StockLevel
from stock.services import Move, stock_move_batch
from supermarket.roles import BUYER, MANAGER, user_set_role
from tests.factories import ProductBarcodeFactory, ProductFactory

pytestmark = pytest.mark.django_db


def logged_in(role: str) -> Client:
    user = get_user_model().objects.create_user(role.lower(), password="x")
    user_set_role(user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def manager() -> Client:
    return logged_in(MANAGER)


@pytest.fixture
def buyer() -> Client:
    return logged_in(BUYER)


def form_data(page) -> dict:
    """What a browser posts from an admin change page left as shown: its form's fields and its inlines'."""
    forms = [page.context["adminform"].form]
    data = {}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
        forms += inline.formset.forms
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if isinstance(value, bool):  # a checkbox is sent only when ticked
                if value:
                    data[form.add_prefix(name)] = "on"
            elif value is not None:
                data[form.add_prefix(name)] = value
    return data


# Lots


@pytest.fixture
def lot_in_stock(floor) -> Lot:
    product = ProductFactory(name="鲜牛奶", lot_tracked=True)
    lot = Lot.objects.create(product=product, code="L0601", expiry_date=date(2026, 12, 1))
    stock_move_batch(moves=[Move(product, floor, Decimal(12), lot)], kind=MovementKind.RECEIPT)
    return lot


def test_a_lots_product_and_code_cannot_be_changed_once_it_exists(manager, lot_in_stock):
    other = ProductFactory(lot_tracked=True)
    url = reverse("admin:stock_lot_change", args=[lot_in_stock.pk])
    page = manager.get(url)
    assert set(page.context["adminform"].form.fields) == {"expiry_date"}

    milk = lot_in_stock.product
    response = manager.post(url, {"product": other.pk, "code": "MOVED", "expiry_date": "2026-12-01"})
    assert response.status_code == 302
    lot_in_stock.refresh_from_db()
    assert (lot_in_stock.product, lot_in_stock.code) == (milk, "L0601")
    level = StockLevel.objects.get(lot=lot_in_stock)  # its stock counts it under the product it belongs to
    assert (level.product, level.on_hand) == (milk, 12)


def test_a_new_lot_is_still_given_its_product_and_code(manager):
    product = ProductFactory(lot_tracked=True)
    page = manager.get(reverse("admin:stock_lot_add"))
    assert {"product", "code", "expiry_date"} <= set(page.context["adminform"].form.fields)
    response = manager.post(
        reverse("admin:stock_lot_add"), {"product": product.pk, "code": "L9", "expiry_date": "2027-01-31"}
    )
    assert response.status_code == 302
    assert Lot.objects.get(code="L9").product == product


def test_an_expiry_date_change_shows_on_the_lots_history_page_with_who_and_old_and_new(manager, lot_in_stock):
    url = reverse("admin:stock_lot_change", args=[lot_in_stock.pk])
    assert manager.post(url, {**form_data(manager.get(url)), "expiry_date": "2026-12-20"}).status_code == 302

    latest = lot_in_stock.history.first()
    assert (latest.expiry_date, latest.history_user.username) == (date(2026, 12, 20), "manager")
    page = manager.get(reverse("admin:stock_lot_history", args=[lot_in_stock.pk]))
    assert page.status_code == 200
    [change] = [record for record in page.context["page_obj"] if getattr(record, "history_delta_changes", None)]
    assert change.history_delta_changes == [{"field": "Expiry date", "old": "2026-12-01", "new": "2026-12-20"}]
    content = page.content.decode()
    assert "2026-12-01" in content and "2026-12-20" in content and ">manager<" in content


# The default location


def test_unticking_the_default_location_is_refused_on_the_field(manager, floor):
    url = reverse("admin:stock_location_change", args=[floor.pk])
    data = form_data(manager.get(url))
    del data["is_default"]
    page = manager.post(url, data)
    assert page.status_code == 200
    assert page.context["adminform"].form.errors["is_default"] == [
        "Reports, forecasts and new purchase orders use this location: make another location the default instead."
    ]
    floor.refresh_from_db()
    assert floor.is_default and Location.default() == floor


def test_ticking_another_location_moves_the_default_in_one_save_and_says_so(manager, floor, backroom):
    url = reverse("admin:stock_location_change", args=[backroom.pk])
    response = manager.post(url, {**form_data(manager.get(url)), "is_default": "on"}, follow=True)
    assert [str(m) for m in response.context["messages"]][0] == (
        f"{backroom} is now the default location, instead of {floor}. Registers keep the location they sell from."
    )
    assert list(Location.objects.filter(is_default=True)) == [backroom]
    assert Location.default() == backroom


def test_a_new_location_ticked_as_default_takes_over(manager, floor):
    data = {"code": "SHOP2", "name": "二号卖场", "kind": "floor", "is_default": "on"}
    assert manager.post(reverse("admin:stock_location_add"), data).status_code == 302
    assert Location.default().code == "SHOP2"
    floor.refresh_from_db()
    assert not floor.is_default


def test_the_default_location_cannot_be_deleted(manager, floor, backroom):
    assert manager.get(reverse("admin:stock_location_delete", args=[floor.pk])).status_code == 403
    assert manager.get(reverse("admin:stock_location_delete", args=[backroom.pk])).status_code == 200


def test_with_no_default_marked_the_floor_location_becomes_it_again(manager, floor):
    Location.objects.update(is_default=False)  # a data import, a shell

    assert Location.default() == floor
    assert list(Location.objects.filter(is_default=True)) == [floor]
    assert manager.get(reverse("reports:jobs")).status_code == 200


def test_with_no_floor_code_the_first_store_floor_location_becomes_the_default(floor, backroom):
    Location.objects.filter(pk=floor.pk).update(code="MAIN", is_default=False)
    Location.objects.create(code="SHOP2", name="二号卖场", kind=Location.Kind.FLOOR)

    assert Location.default() == floor
    assert Location.objects.filter(code="FLOOR").count() == 0


# Ledger and stock level search


@pytest.fixture
def stocked(floor):
    """A beer sold by the can and by the case, a juice, and a receipt's movements of both."""
    beer = ProductFactory(name="青岛啤酒 500ml", barcode="0036000291452", store_code="B123")
    case = ProductBarcodeFactory(product=beer, pack_quantity=24)
    juice = ProductFactory(name="橙汁 1L")
    stock_move_batch(
        moves=[Move(beer, floor, Decimal(48)), Move(juice, floor, Decimal(6))],
        kind=MovementKind.RECEIPT,
        reference="GR000042 PO000007",
    )
    stock_move_batch(moves=[Move(juice, floor, Decimal(-1))], kind=MovementKind.SALE, reference="T01-20261125-000001")
    return {"beer": beer, "case": case, "juice": juice}


def listed(client, admin_name: str, term: str) -> set[tuple[str, str]]:
    page = client.get(reverse(f"admin:stock_{admin_name}_changelist"), {"q": term})
    assert page.status_code == 200
    return {(row.product.name, getattr(row, "reference", "")) for row in page.context["cl"].result_list}


@pytest.mark.parametrize("admin_name", ["stockmovement", "stocklevel"])
def test_ledger_and_stock_levels_are_found_by_any_barcode_of_the_product(manager, stocked, admin_name):
    beer = stocked["beer"].name
    for term in (stocked["case"].barcode, "036000291452", "00036000291452", " b123 ", "啤酒"):
        assert {name for name, _reference in listed(manager, admin_name, term)} == {beer}, term
    assert listed(manager, admin_name, "6900000000000") == set()  # a barcode no product carries


def test_ledger_is_found_by_the_start_of_a_reference(manager, stocked):
    juice = stocked["juice"].name
    assert listed(manager, "stockmovement", "GR000042") == {
        (stocked["beer"].name, "GR000042 PO000007"),
        (juice, "GR000042 PO000007"),
    }
    assert listed(manager, "stockmovement", "T01-20261125") == {(juice, "T01-20261125-000001")}
    assert listed(manager, "stockmovement", "000042") == set()  # the start, not any part


def ledger_queries(client, django_assert_max_num_queries, params: dict) -> list[str]:
    with django_assert_max_num_queries(12) as captured:
        assert client.get(reverse("admin:stock_stockmovement_changelist"), params).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def conditions(sql: str) -> str:
    return sql.partition(" WHERE ")[2]


def test_the_ledger_list_reads_no_date_hierarchy_and_counts_once(manager, stocked, django_assert_max_num_queries):
    for _warming in range(2):  # the worker's caches of the session, user and permissions filled
        ledger_queries(manager, django_assert_max_num_queries, {})
    queries = ledger_queries(manager, django_assert_max_num_queries, {})
    assert not [sql for sql in queries if "DATE_TRUNC" in sql.upper() or "DISTINCT" in sql.upper()]
    assert len([sql for sql in queries if "COUNT(" in sql.upper()]) == 1  # the rows listed, not the whole table again

    product = ProductFactory()
    for _ in range(20):
        stock_move_batch(moves=[Move(product, Location.default(), Decimal(1))], kind=MovementKind.RECEIPT)
    assert len(ledger_queries(manager, django_assert_max_num_queries, {})) == len(queries)


def test_the_ledger_filters_dates_by_fixed_ranges_through_its_index(manager, stocked, django_assert_max_num_queries):
    changelist = manager.get(reverse("admin:stock_stockmovement_changelist")).context["cl"]
    assert changelist.date_hierarchy is None
    [dates] = [spec for spec in changelist.filter_specs if spec.field_path == "created_at"]
    choices = {choice["display"]: choice["query_string"] for choice in dates.choices(changelist)}
    assert {"Today", "Past 7 days", "This month", "This year"} <= set(choices)

    today = QueryDict(choices["Today"].removeprefix("?"))
    queries = ledger_queries(manager, django_assert_max_num_queries, today)
    assert [sql for sql in queries if '"stock_stockmovement"."created_at" >=' in conditions(sql)]


@pytest.mark.parametrize("term", ["啤酒", "036000291452", "GR000042"])
def test_searching_the_ledger_matches_no_text_over_its_join_with_products(
    manager, stocked, django_assert_max_num_queries, term
):
    queries = ledger_queries(manager, django_assert_max_num_queries, {"q": term})
    ledger = [conditions(sql) for sql in queries if 'FROM "stock_stockmovement"' in sql]
    assert ledger and not [where for where in ledger if "catalog_product" in where or "UPPER(" in where]


def test_the_stock_level_list_counts_once(manager, stocked, django_assert_max_num_queries):
    url = reverse("admin:stock_stocklevel_changelist")
    manager.get(url)
    with django_assert_max_num_queries(12) as captured:
        assert manager.get(url, {"q": "啤酒"}).status_code == 200
    assert len([query for query in captured.captured_queries if "COUNT(" in query["sql"].upper()]) == 1


# Extra barcodes in the product's history


def test_extra_barcode_changes_show_on_the_products_history_page(buyer):
    product = ProductFactory(name="青岛啤酒")
    case = ProductBarcodeFactory(product=product, pack_quantity=24)
    gone = ProductBarcodeFactory(product=product, pack_quantity=6)
    url = reverse("admin:catalog_product_change", args=[product.pk])
    data = form_data(buyer.get(url))
    [case_form] = [k.removesuffix("-id") for k, v in data.items() if k.endswith("-id") and v == case.pk]
    [gone_form] = [k.removesuffix("-id") for k, v in data.items() if k.endswith("-id") and v == gone.pk]
    data.update({f"{case_form}-pack_quantity": "1", f"{gone_form}-DELETE": "on"})
    assert buyer.post(url, data).status_code == 302
    assert ProductBarcode.objects.get(pk=case.pk).pack_quantity == 1

    page = buyer.get(reverse("admin:catalog_product_history", args=[product.pk]))
    changes = [
        (c.barcode, c.kind, [(str(f), old, new) for f, old, new in c.fields]) for c in page.context["barcode_changes"]
    ]
    assert changes[:2] == [(gone.barcode, "-", []), (case.barcode, "~", [("pack quantity", 24, 1)])]
    assert sorted(changes[2:]) == sorted([(case.barcode, "+", []), (gone.barcode, "+", [])])
    assert [c.user.username for c in page.context["barcode_changes"][:2]] == ["buyer", "buyer"]
    section = page.content.decode().split('id="barcode-history"')[1]
    assert "Changes of extra barcodes" in section
    assert f"<td>{case.barcode}</td>" in section and "24&nbsp;&rarr;&nbsp;1" in section
    assert "Removed, pack quantity 6" in section and "Added, pack quantity 24" in section
