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
