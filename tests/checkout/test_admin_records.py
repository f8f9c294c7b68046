"""Sales, their lines and payments, returns and shifts are financial records: the admin shows them and changes
nothing, not even for a superuser. Finding one sale by its receipt number is an index lookup, and the history
and jobs pages each say "Created" in their own words."""

import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from checkout.models import Return, Sale, SaleLine, Shift
from checkout.services import sale_return, shift_close
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))
    return client


@pytest.fixture
def sale(register, shift, stocked, sell):
    milk, bread = stocked(2, selling_price=Decimal("3.50"))
    return sell(register, [(milk, 2), (bread, 1)])


@pytest.fixture
def returned(sale, register, cashier, manager):
    line = sale.lines.order_by("position").first()
    return sale_return(
        sale=sale,
        quantities={line.pk: Decimal(1)},
        refund_method="cash",
        register=register,
        user=cashier,
        approved_by=manager,
    )


def test_superuser_cannot_change_a_sale_line_saving_or_promotion(root, sale):
    url = reverse("admin:checkout_sale_change", args=[sale.pk])
    page = root.get(url)
    assert page.status_code == 200  # it can be read
    content = page.content.decode()
    assert 'name="_save"' not in content and 'name="lines-0-saving"' not in content

    lines = list(sale.lines.order_by("position"))
    payment = sale.payments.get()
    form = {
        "lines-TOTAL_FORMS": len(lines),
        "lines-INITIAL_FORMS": len(lines),
        "lines-MIN_NUM_FORMS": 0,
        "lines-MAX_NUM_FORMS": 1000,
        "payments-TOTAL_FORMS": 1,
        "payments-INITIAL_FORMS": 1,
        "payments-MIN_NUM_FORMS": 0,
        "payments-MAX_NUM_FORMS": 1000,
        "payments-0-id": payment.pk,
        "payments-0-sale": sale.pk,
        "payments-0-amount": "0.01",
    }
    for i, line in enumerate(lines):
        form |= {f"lines-{i}-id": line.pk, f"lines-{i}-sale": sale.pk}
        form |= {f"lines-{i}-saving": "99.00", f"lines-{i}-promotion": "fake"}
    assert root.post(url, form).status_code == 403
    assert set(SaleLine.objects.filter(sale=sale).values_list("saving", "promotion")) == {(Decimal("0.00"), "")}
    payment.refresh_from_db()
    assert payment.amount == sale.total


def test_sales_returns_and_shifts_cannot_be_added_changed_or_deleted_in_the_admin(
    root, django_user_model, sale, returned, shift, cashier
):
    shift_close(shift=shift, counted_cash=Decimal("200.00"), user=cashier)
    request = RequestFactory().get("/")
    request.user = django_user_model.objects.get(username="root")
    for obj in (sale, returned, Shift.objects.get(pk=shift.pk)):
        model_admin = admin.site._registry[type(obj)]
        assert model_admin.has_view_permission(request, obj)
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request, obj)
        assert not model_admin.has_delete_permission(request, obj)
        for inline in model_admin.get_inline_instances(request, obj):
            assert not inline.has_add_permission(request, obj), inline
            assert not inline.has_change_permission(request, obj), inline
            assert not inline.has_delete_permission(request, obj) or not inline.can_delete, inline

        opts = obj._meta
        assert root.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])).status_code == 200
        delete = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk])
        assert root.post(delete, {"post": "yes"}).status_code == 403
        assert root.post(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"), {}).status_code == 403
    assert Sale.objects.filter(pk=sale.pk).exists() and Return.objects.filter(pk=returned.pk).exists()


def found(response) -> list[int]:
    assert response.status_code == 200
    return [s.pk for s in response.context["cl"].result_list]


def test_sale_search_finds_the_sale_by_the_number_printed_on_its_receipt(root, register, shift, stocked, sell):
    (milk,) = stocked(1)
    first, second = sell(register, [(milk, 1)]), sell(register, [(milk, 2)])
    receipt = root.get(reverse("checkout:receipt", args=[second.number])).content.decode()
    printed = re.search(r'<strong id="sale-number">([^<]+)</strong>', receipt)[1]

    changelist = reverse("admin:checkout_sale_changelist")
    assert found(root.get(changelist, {"q": printed})) == [second.pk]
    assert found(root.get(changelist, {"q": f" {printed.lower()} "})) == [second.pk]
    assert found(root.get(changelist, {"q": str(first.client_token)})) == [first.pk]
    # Not a substring search (it could not use the unique index on number), and no cast error on other text.
    assert found(root.get(changelist, {"q": printed[-6:]})) == []
    assert found(root.get(changelist, {"q": "kein-uuid"})) == []


def test_sale_list_and_search_use_indexes_and_scan_no_dates(root, sale):
    changelist = reverse("admin:checkout_sale_changelist")
    with CaptureQueriesContext(connection) as listed:
        page = root.get(changelist)
    assert page.status_code == 200
    assert "created_at__gte" in page.content.decode()  # Today / Past 7 days / This month
    with CaptureQueriesContext(connection) as searched:
        assert found(root.get(changelist, {"q": sale.number})) == [sale.pk]

    sale_sql = [q["sql"] for q in [*listed, *searched] if '"checkout_sale"' in q["sql"]]
    assert sale_sql
    assert not [sql for sql in sale_sql if "DATE_TRUNC" in sql.upper() or "DISTINCT" in sql.upper()]
    assert not [sql for sql in sale_sql if "LIKE" in sql.upper() or "::TEXT" in sql.upper()]
    # One count of the matching sales, none of the whole table beside it.
    assert len([sql for sql in searched.captured_queries if "COUNT(*)" in sql["sql"].upper()]) == 1


def test_history_says_created_in_simple_history_words_and_the_jobs_page_keeps_its_column(root):
    product = ProductFactory()
    history = root.get(
        reverse("admin:catalog_product_history", args=[product.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "已创建" in history and "创建时间" not in history
    jobs = root.get(reverse("reports:jobs"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "<th>创建时间</th>" in jobs
