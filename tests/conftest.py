import pytest

from stock.models import Location


@pytest.fixture
def floor(db) -> Location:
    return Location.default()


@pytest.fixture
def backroom(db) -> Location:
    location, _ = Location.objects.get_or_create(
        code="BACK", defaults={"name": "后仓 Backroom", "kind": Location.Kind.BACKROOM}
    )
    return location


@pytest.fixture(autouse=True)
def _empty_worker_caches():
    # Rolled-back test transactions never run the on-commit invalidation: start each test with empty caches.
    from supermarket import localcache

    for cache in localcache._registry:  # products, tokens, permissions, registers, promotion rules
        cache.clear_local()
    yield
