import logging
import time
from decimal import Decimal

import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.test import override_settings
from django.urls import reverse

from catalog.cache import product_lookup_cached, products
from catalog.imports.services import catalog_import_apply
from catalog.services import product_update
from checkout.models import ApiToken
from checkout.services import api_token_for
from stock.models import Location, MovementKind
from stock.services import stock_move
from supermarket import localcache
from supermarket.localcache import GenerationCache
from supermarket.roles import CASHIER, user_set_role
from tests.catalog.test_import_files import csv_bytes, row
from tests.factories import ProductBarcodeFactory, ProductFactory

pytestmark = pytest.mark.django_db

REDIS_DOWN = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
}


@pytest.fixture
def cashier(django_user_model):
    user = django_user_model.objects.create_user("scanner", password="x")
    user_set_role(user=user, role=CASHIER)
    return user


@pytest.fixture
def api(client, cashier):
    key = api_token_for(cashier).key

    def get(code: str, **headers):
        headers.setdefault("HTTP_AUTHORIZATION", f"Token {key}")
        return client.get(f"/api/products/{code}", **headers)

    return get


def price(response) -> Decimal:
    assert response.status_code == 200, response.content
    return Decimal(response.json()["selling_price"])


def test_a_price_changed_by_the_service_is_scanned_at_once(api):
    product = ProductFactory(selling_price=Decimal("4.50"))
    assert price(api(product.barcode)) == Decimal("4.50")
    product_update(product=product, selling_price=Decimal("5.20"))
    assert price(api(product.barcode)) == Decimal("5.20")


def test_a_price_changed_in_the_admin_is_scanned_at_once(api, client, django_user_model):
    product = ProductFactory(selling_price=Decimal("4.50"))
    assert price(api(product.barcode)) == Decimal("4.50")

    client.force_login(django_user_model.objects.create_superuser("boss", password="x"))
    url = reverse("admin:catalog_product_change", args=[product.pk])
    page = client.get(url)
    data = admin_form_data(page)
    data["selling_price"] = "6.80"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response

    assert price(api(product.barcode)) == Decimal("6.80")


def admin_form_data(page) -> dict:
    """The change form's current values, as the browser would post them back."""
    data = {}
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
        forms.extend(formset.forms)
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[form.add_prefix(name)] = "on" if value is True else value
    return data


def test_a_price_changed_by_an_import_is_scanned_at_once(api):
    barcode = row(7)[0]
    catalog_import_apply(data=csv_bytes([row(7, price="3.50")]), filename="a.csv", user=None)
    assert price(api(barcode)) == Decimal("3.50")
    catalog_import_apply(data=csv_bytes([row(7, price="3.90")]), filename="b.csv", user=None)
    assert price(api(barcode)) == Decimal("3.90")


def test_an_extra_barcode_scans_the_changed_price_too(api):
    extra = ProductBarcodeFactory(pack_quantity=6, product__selling_price=Decimal("2.00"))
    assert price(api(extra.barcode)) == Decimal("2.00")
    product_update(product=extra.product, selling_price=Decimal("2.40"))
    assert price(api(extra.barcode)) == Decimal("2.40")


def on_hand(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["on_hand"]


def test_a_cached_scan_makes_no_query_and_shows_a_stock_change_at_once(
    api, floor, backroom, django_assert_num_queries, django_capture_on_commit_callbacks
):
    product = ProductFactory()
    stock_move(product=product, location=floor, quantity=Decimal(10), kind=MovementKind.RECEIPT)
    api(product.barcode)
    with django_assert_num_queries(0):
        assert on_hand(api(product.barcode)) == [{"location": floor.code, "name": floor.name, "on_hand": "10.000"}]
    with django_capture_on_commit_callbacks(execute=True):
        stock_move(product=product, location=floor, quantity=Decimal(-3), kind=MovementKind.SALE)
    assert on_hand(api(product.barcode)) == [{"location": floor.code, "name": floor.name, "on_hand": "7.000"}]
    with django_capture_on_commit_callbacks(execute=True):
        stock_move(product=product, location=backroom, quantity=Decimal(2), kind=MovementKind.RECEIPT)
    assert [row["on_hand"] for row in on_hand(api(product.barcode))] == ["2.000", "7.000"]


def test_a_stock_change_drops_that_product_only_in_every_other_worker(django_capture_on_commit_callbacks):
    changed, untouched = ProductFactory(), ProductFactory()
    other = GenerationCache("on-hand", maxsize=10)  # another worker's on-hand cache
    loads = []
    for product in (changed, untouched):
        other.get(str(product.pk), lambda p=product: loads.append(p.pk))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        stock_move(product=changed, location=Location.default(), quantity=Decimal(1), kind=MovementKind.RECEIPT)
        other.get(str(changed.pk), lambda: loads.append("early"))
        assert "early" not in loads  # not before the commit
    for callback in callbacks:
        callback()
    other.get(str(changed.pk), lambda: loads.append("after"))
    other.get(str(untouched.pk), lambda: loads.append("untouched"))
    assert loads[2:] == ["after"]


def test_a_drop_published_by_another_process_is_heard(monkeypatch):
    monkeypatch.setattr(localcache, "RESYNC_SECONDS", 60)  # so only the published message can tell
    other = GenerationCache("on-hand", maxsize=10)
    other.get("41", lambda: "first")
    other.get("42", lambda: "first")
    with other_process() as client:
        client.publish(prefixed(localcache.CHANNEL), f"{other.key} -40,41")
    assert loaded_within_a_second(other, "41")
    assert other.get("42", lambda: "reloaded") == "first"


def test_a_stock_change_in_a_rolled_back_transaction_leaves_entries_alone(floor):
    product = ProductFactory()
    other = GenerationCache("on-hand", maxsize=10)
    other.get(str(product.pk), lambda: "before")
    with pytest.raises(RuntimeError), transaction.atomic():
        stock_move(product=product, location=floor, quantity=Decimal(5), kind=MovementKind.RECEIPT)
        raise RuntimeError("refused later in the same document")
    assert other.get(str(product.pk), lambda: "reloaded") == "before"


def test_the_till_scan_path_also_sees_a_price_change_at_once():
    product = ProductFactory(selling_price=Decimal("1.00"))
    assert product_lookup_cached(product.barcode).product.selling_price == Decimal("1.00")
    product_update(product=product, selling_price=Decimal("1.10"))
    assert product_lookup_cached(product.barcode).product.selling_price == Decimal("1.10")


def test_a_committed_change_drops_the_entries_of_every_other_worker(django_capture_on_commit_callbacks):
    changed, untouched = ProductFactory(selling_price=Decimal("4.50")), ProductFactory(selling_price=Decimal("8.00"))
    # Another worker: its own entries, the same shared generation in Redis.
    other = GenerationCache("catalog", maxsize=10)
    loads = []

    def load(code):
        loads.append(code)
        return code

    other.get(changed.barcode, lambda: load(changed.barcode))
    other.get(changed.barcode, lambda: load(changed.barcode))
    assert loads == [changed.barcode]  # the second read was a hit
    with django_capture_on_commit_callbacks(execute=True):
        product_update(product=changed, selling_price=Decimal("4.90"))
    other.get(changed.barcode, lambda: load(changed.barcode))
    assert loads == [changed.barcode, changed.barcode]
    # This worker's entries for other products are refilled from the database with their unchanged price.
    assert product_lookup_cached(untouched.barcode).product.selling_price == Decimal("8.00")
    assert product_lookup_cached(changed.barcode).product.selling_price == Decimal("4.90")


def test_an_uncommitted_change_leaves_other_workers_entries_alone_until_commit(django_capture_on_commit_callbacks):
    product = ProductFactory()
    other = GenerationCache("catalog", maxsize=10)
    loads = []
    other.get(product.barcode, lambda: loads.append(1))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        product_update(product=product, selling_price=Decimal("9.99"))
        other.get(product.barcode, lambda: loads.append(2))
        assert loads == [1]
    assert callbacks  # the invalidation waits for the commit


def test_with_redis_down_scans_come_from_the_database_and_it_is_logged_once(api, caplog):
    product = ProductFactory(selling_price=Decimal("4.50"))
    assert price(api(product.barcode)) == Decimal("4.50")  # cached while Redis is up
    with override_settings(CACHES=REDIS_DOWN), caplog.at_level(logging.WARNING, logger="supermarket.localcache"):
        for _ in range(3):
            assert price(api(product.barcode)) == Decimal("4.50")
        product_update(product=product, selling_price=Decimal("4.70"))
        assert price(api(product.barcode)) == Decimal("4.70")
        assert api("0000000000000").status_code in (400, 404)
    catalog_warnings = [r for r in caplog.records if "generation:catalog" in r.getMessage()]
    assert len(catalog_warnings) == 1 and "unreachable" in catalog_warnings[0].getMessage()
    assert products.unreachable


def test_a_revoked_api_token_is_refused_at_once(api, cashier):
    product = ProductFactory()
    assert api(product.barcode).status_code == 200
    ApiToken.objects.filter(user=cashier).get().delete()
    assert api(product.barcode).status_code == 401


def test_a_deactivated_user_is_refused_at_once(api, cashier):
    product = ProductFactory()
    assert api(product.barcode).status_code == 200
    cashier.is_active = False
    cashier.save()
    assert api(product.barcode).status_code == 401


def test_a_cached_scan_asks_redis_nothing(api, monkeypatch):
    product = ProductFactory()
    monkeypatch.setattr(localcache, "RESYNC_SECONDS", 60)
    api(product.barcode)
    reads = []
    real = localcache._get_many
    monkeypatch.setattr(localcache, "_get_many", lambda cache, keys: reads.append(keys) or real(cache, keys))
    assert api(product.barcode).status_code == 200  # token, permissions and product: three caches
    assert reads == []


def other_process() -> redis.Redis:
    """A Redis client of its own, as another worker has; keys and channel with this cache's prefix."""
    return redis.Redis.from_url(settings.REDIS_URL)


def prefixed(key: str) -> str:
    return caches["default"].make_and_validate_key(key)


def loaded_within_a_second(cache: GenerationCache, code: str) -> bool:
    loads = []
    for _ in range(100):
        cache.get(code, lambda: loads.append(code))
        if loads:
            return True
        time.sleep(0.01)
    return False


def test_a_change_published_by_another_process_is_heard_without_reading_generations(monkeypatch):
    monkeypatch.setattr(localcache, "RESYNC_SECONDS", 60)  # so only the published message can tell
    other = GenerationCache("catalog", maxsize=10)
    other.get("6901234567892", lambda: "first")
    assert other.get("6901234567892", lambda: "again") == "first"
    with other_process() as client:
        client.publish(prefixed(localcache.CHANNEL), f"{products.key} 12345")
    assert loaded_within_a_second(other, "6901234567892")


def test_a_killed_subscription_is_made_afresh_and_a_change_missed_meanwhile_is_read(monkeypatch):
    monkeypatch.setattr(localcache, "RESYNC_SECONDS", 60)
    other = GenerationCache("catalog", maxsize=10)
    other.get("6901234567892", lambda: "first")
    listener = caches["default"]._generations_listener
    host, port = listener.connection._sock.getsockname()[:2]
    with other_process() as client:
        client.client_kill(f"{host}:{port}")
        client.set(prefixed(products.key), 67890)  # changed while nobody listened: no message will come
    assert other.get("6901234567892", lambda: "reloaded") == "reloaded"
    assert listener.connection is not None  # subscribed again


def test_outside_a_request_each_lookup_sees_a_committed_change(django_capture_on_commit_callbacks):
    product = ProductFactory(selling_price=Decimal("3.00"))
    other = GenerationCache("catalog", maxsize=10)
    assert other.get(product.barcode, lambda: "first") == "first"
    with django_capture_on_commit_callbacks(execute=True):
        product_update(product=product, selling_price=Decimal("3.30"))
    assert other.get(product.barcode, lambda: "refilled") == "refilled"


def test_a_generation_stored_by_an_older_release_still_invalidates(django_capture_on_commit_callbacks):
    from django.core.cache import cache

    product = ProductFactory(selling_price=Decimal("5.00"))
    cache.set(products.key, "3f2a9c0d1e", timeout=None)  # older releases kept text generations (pickled by Django)
    other = GenerationCache("catalog", maxsize=10)
    assert other.get(product.barcode, lambda: "first") == "first"
    assert other.get(product.barcode, lambda: "again") == "first"
    with django_capture_on_commit_callbacks(execute=True):
        product_update(product=product, selling_price=Decimal("5.50"))
    assert isinstance(cache.get(products.key), int)
    assert other.get(product.barcode, lambda: "refilled") == "refilled"
