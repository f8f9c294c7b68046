"""Router tests against a real streaming replica (`make test-replica` starts one on 127.0.0.1:5433).

Data must be committed on the primary to reach the replica, so these tests work on committed
data and flush the primary afterwards instead of rolling back a transaction.
"""

import time

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from supermarket import db_router

if "replica" not in settings.DATABASES:
    pytest.skip("REPLICA_DATABASE_URL is not set (run `make test-replica`)", allow_module_level=True)


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    from django.test.utils import setup_databases, teardown_databases

    replica_settings = dict(connections["replica"].settings_dict)
    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    # The test database created on the primary streams to the replica: read it there under the same name.
    connections["replica"].close()
    connections["replica"].settings_dict = {**replica_settings, "NAME": connections["default"].settings_dict["NAME"]}
    yield
    connections["replica"].close()
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=0)


def wait_for_replica(timeout: float = 10) -> None:
    """Block until the replica has replayed everything the primary has written so far."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("replica did not catch up")


@pytest.fixture
def live(django_db_setup, django_db_blocker):
    """Committed reads and writes on both databases; the primary is flushed afterwards."""
    with django_db_blocker.unblock():
        db_router.unpin()
        wait_for_replica()
        yield
        db_router.unpin()
        call_command("flush", interactive=False, verbosity=0, database="default")


@pytest.fixture
def replica_paused(live):
    """The replica stops replaying: it lags behind the primary until the test ends."""
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_wal_replay_resume()")
