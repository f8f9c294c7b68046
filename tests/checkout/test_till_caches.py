"""The till's scan reads its session, its user and its products from the worker's caches: every change that matters
is seen at the next scan, whichever worker serves it."""

import re
from decimal import Decimal

import pytest
from django.contrib.sessions.models import Session
from django.test import override_settings

from catalog.services import product_update
from supermarket import sessions
from supermarket.localcache import GenerationCache
from tests.checkout.test_till import lines
from tests.perf.test_scan_cache import REDIS_DOWN

pytestmark = pytest.mark.django_db


@pytest.fixture
def scan(till):
    return lambda code: till("scan/", code=code)


def logged_out(response) -> bool:
    return response.status_code == 302 and "/checkout/login/" in response.url


def unit_prices(response) -> list[Decimal]:
    return [Decimal(p) for p in re.findall(r'<td class="num price">([^<]+)</td>', response.content.decode())]


def test_the_basket_prices_a_line_scanned_before_a_price_change_at_the_new_price(scan, stocked):
    milk, bread = stocked(2, selling_price=Decimal("3.00"))
    assert unit_prices(scan(milk.barcode)) == [Decimal("3.00")]
    product_update(product=milk, selling_price=Decimal("3.40"))
    assert unit_prices(scan(bread.barcode)) == [Decimal("3.40"), Decimal("3.00")]


def test_a_deactivated_cashier_is_sent_to_log_in_at_the_next_scan(scan, stocked, cashier):
    (milk,) = stocked(1)
    assert scan(milk.barcode).status_code == 200
    cashier.is_active = False
    cashier.save()
    assert logged_out(scan(milk.barcode))


def test_a_changed_password_ends_the_till_session_at_the_next_scan(scan, stocked, cashier):
    (milk,) = stocked(1)
    assert scan(milk.barcode).status_code == 200
    cashier.set_password("a new password for the till")
    cashier.save()
    assert logged_out(scan(milk.barcode))


def test_a_session_deleted_elsewhere_is_refused_at_the_next_scan(scan, till, stocked):
    (milk,) = stocked(1)
    assert scan(milk.barcode).status_code == 200
    key = till.client.session.session_key
    sessions.SessionStore(key).delete()  # as a logout in another tab of the same browser does
    assert logged_out(scan(milk.barcode))
    assert not Session.objects.filter(session_key=key).exists()


def test_a_logout_drops_the_session_in_every_other_worker(scan, till, stocked, django_capture_on_commit_callbacks):
    (milk,) = stocked(1)
    scan(milk.barcode)
    key = till.client.session.session_key
    other = GenerationCache("sessions", maxsize=10)  # another worker's session cache
    loads = []
    other.get(key, lambda: loads.append("first"))
    other.get(key, lambda: loads.append("hit"))
    with django_capture_on_commit_callbacks(execute=True):
        till.client.post("/checkout/logout/")
    other.get(key, lambda: loads.append("after logout"))
    assert loads == ["first", "after logout"]


def test_a_renewed_session_is_read_afresh_by_every_other_worker(cashier, client, django_capture_on_commit_callbacks):
    client.force_login(cashier)
    key = client.session.session_key
    other = GenerationCache("sessions", maxsize=10)
    loads = []
    other.get(key, lambda: loads.append("first"))
    session = sessions.SessionStore(key)
    session["active_minute"] = 1
    with django_capture_on_commit_callbacks(execute=True):
        session.save()
    other.get(key, lambda: loads.append("after renewal"))
    assert loads == ["first", "after renewal"]


def test_with_redis_down_the_till_keeps_scanning_from_the_database(scan, till, stocked):
    milk, bread = stocked(2)
    assert scan(milk.barcode).status_code == 200
    with override_settings(CACHES=REDIS_DOWN):
        response = scan(bread.barcode)
        assert response.status_code == 200
        assert [name for name, _qty in lines(response)] == [milk.name, bread.name]
        till.client.post("/checkout/logout/")
        assert logged_out(scan(milk.barcode))


def test_get_many_loads_only_the_missing_keys_in_one_call():
    cache = GenerationCache("get-many-test", maxsize=10)
    calls = []

    def load(keys):
        calls.append(keys)
        return {key: key.upper() for key in keys if key != "gone"}

    assert cache.get_many(["a", "b"], load) == {"a": "A", "b": "B"}
    assert cache.get_many(["b", "c", "gone", "c"], load) == {"b": "B", "c": "C"}
    assert calls == [["a", "b"], ["c", "gone"]]
    cache.forget(["a"])
    assert cache.get_many(["a", "b", "c"], load) == {"a": "A", "b": "B", "c": "C"}
    assert calls[-1] == ["a"]


def test_get_many_does_not_keep_what_was_loaded_across_a_drop():
    cache = GenerationCache("get-many-test", maxsize=10)

    def load_while_dropped(keys):
        cache.forget(["x"])  # a change committed while this worker was reading the old rows
        return {key: "old" for key in keys}

    assert cache.get_many(["x"], load_while_dropped) == {"x": "old"}
    assert cache.get_many(["x"], lambda keys: {key: "new" for key in keys}) == {"x": "new"}
