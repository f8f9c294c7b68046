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
    from catalog.cache import products
    from supermarket.access import permission_sets
    from supermarket.auth import tokens

    products.clear_local()
    tokens.clear_local()
    permission_sets.clear_local()
    yield
