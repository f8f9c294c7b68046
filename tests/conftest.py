import pytest
from django.conf import settings
from django.test import override_settings

from stock.models import Location


@pytest.fixture(autouse=True, scope="session")
def _static_names_without_a_manifest():
    # Production's storage names files by the manifest collectstatic leaves in staticfiles/ (after `make demo`),
    # and the tests expect plain names: the run must not depend on what the working copy has collected.
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield


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
