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


def _warnings():
    return {issue.id: issue for issue in connection.validation.check()}


def test_a_server_without_autovacuum_is_reported():
    with connection.cursor() as cursor:
        cursor.execute("SELECT setting FROM pg_settings WHERE name IN ('autovacuum', 'track_counts')")
        off = any(setting == "off" for (setting,) in cursor.fetchall())
    assert ("supermarket.W001" in _warnings()) == off


def test_a_sale_table_without_autovacuum_is_named():
    assert "supermarket.W002" not in _warnings()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE stock_stocklevel SET (autovacuum_enabled = false)")
        cursor.execute("ALTER TABLE checkout_sale SET (autovacuum_enabled = off)")  # stored as written
        cursor.execute("ALTER TABLE checkout_payment SET (autovacuum_enabled = on)")
        cursor.execute("ALTER TABLE catalog_product SET (autovacuum_enabled = false)")  # not a sale table
    warning = _warnings()["supermarket.W002"]
    assert "stock_stocklevel" in warning.msg
    assert "checkout_sale," in warning.msg
    assert "checkout_payment" not in warning.msg
    assert "catalog_product" not in warning.msg


def test_migrate_runs_the_database_checks(capsys):
    from django.core.management import call_command

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE checkout_saleline SET (autovacuum_enabled = false)")
    call_command("migrate", verbosity=0, skip_checks=False)
    assert "supermarket.W002" in capsys.readouterr().err
