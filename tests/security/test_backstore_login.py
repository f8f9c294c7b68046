"""Logging in from the back-store and report pages, what each role is shown there, and the 403 page."""

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import PermissionDenied
from django.shortcuts import resolve_url
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.defaults import permission_denied

from supermarket import access
from supermarket.roles import BUYER, CASHIER, MANAGER, STOCK_CLERK
from tests.security.conftest import PASSWORD

LOGIN = "/checkout/login/"
TILES = (
    "stock:receiving-list",
    "stock:count-list",
    "stock:replenishment",
    "stock:near-expiry",
    "stock:transfer-new",
    "stock:write-off-new",
)


def _log_in(client: Client, user, login_url: str) -> str:
    """Follows the login form a page sent to and answers where the login sends the user."""
    page = client.get(login_url)
    assert page.status_code == 200
    answer = client.post(login_url, {"username": user.username, "password": PASSWORD, "next": page.context["next"]})
    assert answer.status_code == 302 and client.session[SESSION_KEY] == str(user.pk)
    return answer.url


def test_a_logged_out_stock_clerk_logs_in_from_a_back_store_page_and_lands_on_it(users):
    client = Client()
    response = client.get("/stock/receiving/")
    assert response.status_code == 302 and response.url == f"{LOGIN}?next=/stock/receiving/"
    page = client.get(response.url).content.decode()
    assert "<h1>Log in</h1>" in page and "Cashier login" not in page  # not only the till's cashiers log in here

    assert _log_in(client, users[STOCK_CLERK], response.url) == "/stock/receiving/"
    assert client.get("/stock/receiving/").status_code == 200


def test_a_logged_in_stock_clerk_still_cannot_reach_the_admin(users):
    client = Client()
    _log_in(client, users[STOCK_CLERK], f"{LOGIN}?next=/stock/")
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")
    refused = Client().post("/admin/login/", {"username": "stock_clerk", "password": PASSWORD, "next": "/admin/"})
    assert refused.status_code == 200 and SESSION_KEY not in refused.wsgi_request.session


def test_report_pages_send_to_the_same_login_and_a_manager_lands_on_the_report(users):
    client = Client()
    response = client.get("/reports/")
    assert response.status_code == 302 and response.url == f"{LOGIN}?next=/reports/"
    assert _log_in(client, users[MANAGER], response.url) == "/reports/"
    assert client.get("/reports/").status_code == 200


def test_views_login_required_and_the_admin_keep_their_own_login_pages(users):
    assert resolve_url(settings.LOGIN_URL) == LOGIN  # the stock and report views' own login_required
    response = Client().get("/admin/django_rq/")  # superusers only: the admin's login is theirs
    assert response.status_code == 302 and response.url.startswith("/admin/login/")


@pytest.mark.parametrize("role", [STOCK_CLERK, BUYER, MANAGER])
def test_the_back_store_shows_only_the_tiles_and_links_the_role_may_open(users, role):
    client = Client()
    client.force_login(users[role])
    page = client.get(reverse("stock:home")).content.decode()
    access.load_permissions(users[role])
    for name in TILES:
        allowed = access.URL_RULES[name].allows(users[role], {})
        # One link in the menu, one tile.
        assert page.count(f'href="{reverse(name)}"') == (2 if allowed else 0), name


def test_a_page_the_role_may_not_open_explains_why_in_chinese_and_offers_a_way_on(users):
    client = Client()
    client.force_login(users[STOCK_CLERK])
    response = client.get("/stock/write-offs/new/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 403
    page = response.content.decode()
    assert "您的角色无权访问此页面。" in page
    assert f'href="{reverse("stock:home")}"' in page and f'href="{reverse("checkout:till")}"' not in page
    assert f'action="{reverse("checkout:logout")}"' in page
    assert f'value="{LOGIN}?next=/stock/write-offs/new/"' in page

    # Logging out there and in as a manager comes back to the page.
    answer = client.post(reverse("checkout:logout"), {"next": f"{LOGIN}?next=/stock/write-offs/new/"})
    assert answer.status_code == 302
    assert _log_in(client, users[MANAGER], answer.url) == "/stock/write-offs/new/"


def test_a_refusal_without_a_message_still_says_what_happened(users):
    request = RequestFactory().get("/admin/")
    request.user = users[CASHIER]
    page = permission_denied(request, PermissionDenied()).content.decode()
    assert "You may not open this page." in page and f'href="{reverse("checkout:till")}"' in page


def test_api_refusals_stay_json(users, monkeypatch):
    client = Client()
    client.force_login(users[STOCK_CLERK])
    response = client.post(reverse("checkout-api:sale-create"), {}, content_type="application/json")
    assert response.status_code == 403 and response.json() == {"error": "Your role does not allow this."}

    # An API URL that lost its rule is refused as JSON too, not with the 403 page.
    monkeypatch.delitem(access.URL_RULES, "checkout-api:product-detail")
    response = client.get(reverse("checkout-api:product-detail", args=["6970001000009"]))
    assert response.status_code == 403 and response.json() == {"error": "Your role does not allow this."}


def test_a_counter_who_may_not_start_a_count_is_told_so_on_the_refusal_page(django_user_model):
    from django.contrib.auth.models import Permission

    counter = django_user_model.objects.create_user("counter", password=PASSWORD)
    counter.user_permissions.add(*Permission.objects.filter(codename__in=["add_countentry", "view_stocklevel"]))
    client = Client()
    client.force_login(counter)
    response = client.post(reverse("stock:count-list"), {"location": 1}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 403
    assert "您的角色无权开始盘点。" in response.content.decode()
