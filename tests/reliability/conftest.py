import os
from decimal import Decimal

import pytest

from tests.reliability.clients import Tally
from tests.reliability.live import live_server

# The fault tests restart the machine's PostgreSQL and Redis, which every other test run shares:
# they run only when asked for (make test-reliability sets this), never as part of `make test`.
FAULTS = os.getenv("RELIABILITY_FAULTS") == "1"
HOT_PRODUCTS = 100
START_ON_HAND = Decimal(100_000)


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="restarts PostgreSQL and Redis: run by `make test-reliability`")
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here) and "live" in getattr(item, "fixturenames", ()) and not FAULTS:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_server(
        products=HOT_PRODUCTS,
        start_on_hand=START_ON_HAND,
        workers=int(os.getenv("RELIABILITY_WORKERS", "4")),
        log_dir=tmp_path_factory.mktemp("live"),
    ) as server:
        yield server


@pytest.fixture(scope="module")
def tally() -> Tally:
    return Tally()
