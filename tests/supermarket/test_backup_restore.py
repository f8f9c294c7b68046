"""The backup and restore commands of docs/DEPLOY.md, run for real against the test database."""

import shutil
import subprocess
import uuid
from decimal import Decimal

import psycopg
import pytest
from django.db import connection

from stock.models import MovementKind
from stock.services import stock_move
from tests.factories import ProductFactory

pytestmark = pytest.mark.skipif(not shutil.which("pg_dump"), reason="PostgreSQL client tools not installed")


def url(name: str) -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


@pytest.mark.django_db(transaction=True)
def test_pg_dump_and_pg_restore_bring_back_products_ledger_and_its_guard(tmp_path, floor):
    product = ProductFactory(name="备份测试商品")
    stock_move(product=product, location=floor, quantity=Decimal(7), kind=MovementKind.RECEIPT)
    dump = tmp_path / "supermarket.dump"
    source = url(connection.settings_dict["NAME"])
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", source], check=True)

    restored = f"restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{restored}"')
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={url(restored)}", str(dump)], check=True
        )
        with psycopg.connect(url(restored)) as db:
            assert db.execute("SELECT name FROM catalog_product WHERE id = %s", [product.pk]).fetchone() == (
                "备份测试商品",
            )
            assert db.execute("SELECT on_hand FROM stock_stocklevel WHERE product_id = %s", [product.pk]).fetchone()[
                0
            ] == Decimal(7)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute("DELETE FROM stock_stockmovement")
    finally:
        with psycopg.connect(url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
