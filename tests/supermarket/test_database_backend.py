import time

import pytest
from django.db import connection, connections

pytestmark = pytest.mark.django_db


@pytest.fixture
def other():
    """A second connection to the database, through the project's backend."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def test_the_project_backend_is_in_use():
    assert type(connections["default"]).__module__ == "supermarket.postgresql.base"


def test_a_quiet_connection_is_usable_without_a_round_trip(other, monkeypatch):
    sent = []
    monkeypatch.setattr(other.connection, "cursor", lambda *a, **k: sent.append(1))
    assert other.is_usable()
    assert sent == []  # no SELECT 1


def test_a_connection_the_server_dropped_is_found_unusable(other):
    with other.connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while other.is_usable() and time.monotonic() < deadline:  # the server's goodbye arrives within moments
        time.sleep(0.05)
    assert not other.is_usable()
    other.close()
    other.ensure_connection()  # what Django does next: a new connection, which works
    assert other.is_usable()
    with other.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
