"""Admin pages that name categories by their full path ("饮料 / 碳酸饮料 / 可乐") read every path in one query: what they
cost does not grow with the rows shown nor with how deep the categories are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Category
from tests.catalog.test_export import FIELDS, csv_rows, export
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", password="x"))
    return client


def chain(*names: str) -> Category:
    """Categories each inside the one before; the last is returned."""
    category = None
    for name in names:
        category = CategoryFactory(name=name, parent=category)
    return category


def settled(request) -> tuple[int, object]:
    """The queries of a request once the worker's caches (session, user, permissions) are filled, and its response."""
    request(), request()
    with CaptureQueriesContext(connection) as captured:
        response = request()
    assert response.status_code == 200
    return len(captured), response


def grow():
    """Deeper categories and many more products: a page of fifty rows and more."""
    deep = chain("食品", "饮料", "碳酸饮料", "可乐")
    ProductFactory.create_batch(60, category=deep)
    for name in ("零食", "日用", "生鲜"):
        chain(name, f"{name}一", f"{name}二")
    return deep


def test_the_product_list_costs_the_same_whatever_the_rows_and_depth(staff_client):
    ProductFactory(category=chain("饮料"))
    url = reverse("admin:catalog_product_changelist")
    few, _page = settled(lambda: staff_client.get(url))

    grow()
    many, page = settled(lambda: staff_client.get(url))
    assert many == few
    assert '<td class="field-category nowrap">食品 / 饮料 / 碳酸饮料 / 可乐</td>' in page.content.decode()
    filter_choices = [
        choice["display"] for spec in page.context["cl"].filter_specs for choice in spec.choices(page.context["cl"])
    ]
    assert "食品 / 饮料 / 碳酸饮料 / 可乐" in filter_choices and "零食 / 零食一 / 零食二" in filter_choices

    shown_all, _page = settled(lambda: staff_client.get(url, {"all": ""}))
    assert shown_all == few


def test_the_category_list_costs_the_same_whatever_the_rows_and_depth(staff_client):
    chain("饮料")
    url = reverse("admin:catalog_category_changelist")
    few, _page = settled(lambda: staff_client.get(url))

    grow()
    CategoryFactory.create_batch(120, parent=Category.objects.get(name="可乐"))  # more than a page
    many, page = settled(lambda: staff_client.get(url))
    assert many == few
    assert "食品 / 饮料 / 碳酸饮料</td>" in page.content.decode()  # the parent column of 可乐


def test_the_category_autocomplete_costs_the_same_whatever_the_rows_and_depth(staff_client):
    chain("饮料")
    url = reverse("admin:autocomplete")
    params = {"app_label": "catalog", "model_name": "product", "field_name": "category", "term": ""}
    few, _response = settled(lambda: staff_client.get(url, params))

    grow()
    many, response = settled(lambda: staff_client.get(url, params))
    assert many == few
    assert "食品 / 饮料 / 碳酸饮料 / 可乐" in [result["text"] for result in response.json()["results"]]


def test_the_product_export_costs_the_same_whatever_the_rows_and_depth(staff_client):
    ProductFactory(category=chain("饮料"))
    few, _response = settled(lambda: export(staff_client, "catalog_product", "productresource", FIELDS, 0))

    deep = grow()
    many, response = settled(lambda: export(staff_client, "catalog_product", "productresource", FIELDS, 0))
    assert many == few
    rows = csv_rows(response)[1:]
    assert len(rows) == 61 and [row[2] for row in rows].count(str(deep)) == 60
