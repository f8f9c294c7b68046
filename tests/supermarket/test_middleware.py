import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from checkout.services import api_token_for
from supermarket.middleware import PagesOnly
from supermarket.roles import CASHIER, user_set_role
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_key(django_user_model):
    user = django_user_model.objects.create_user("scanner", password="x")
    user_set_role(user=user, role=CASHIER)
    return api_token_for(user).key


def test_pages_get_the_page_middleware_and_the_api_answers_without_it(client, api_key):
    page = client.get("/checkout/login/")
    assert page.status_code == 200
    assert page["X-Frame-Options"] == "DENY" and "Content-Security-Policy" in page

    product = ProductFactory()
    scan = client.get(f"/api/products/{product.barcode}", HTTP_AUTHORIZATION=f"Token {api_key}")
    assert scan.status_code == 200 and scan.json()["barcode"] == product.barcode
    assert "X-Frame-Options" not in scan and "Content-Security-Policy" not in scan
    # What the API still gets from the middleware around it: security headers and the language it answered in.
    assert scan["X-Content-Type-Options"] == "nosniff" and "Content-Language" in scan


def test_an_api_error_is_still_translated_and_refused_with_the_role_rule(client, django_user_model):
    response = client.get(
        "/api/products/6900000000000", HTTP_AUTHORIZATION="Token nope", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 401
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json()["error"])  # Chinese, from LocaleMiddleware

    nobody = django_user_model.objects.create_user("nobody", password="x")
    response = client.get(
        "/api/products/6900000000000",
        HTTP_AUTHORIZATION=f"Token {api_token_for(nobody).key}",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 403 and response.json()["error"] == "Your role does not allow this."


def test_middleware_with_view_hooks_cannot_be_a_page_middleware():
    with override_settings(PAGE_MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"]):
        with pytest.raises(ImproperlyConfigured, match="process_view"):
            PagesOnly(lambda request: None)


def test_the_system_check_finds_required_middleware_in_either_list():
    assert not [e for e in run_checks() if e.id == "supermarket.E001"]
    with override_settings(PAGE_MIDDLEWARE=[]):
        missing = [e.msg for e in run_checks() if e.id == "supermarket.E001"]
    assert len(missing) == 3 and any("MessageMiddleware" in m for m in missing)
