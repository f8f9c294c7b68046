"""The one-command demo runs on the embedded SQLite database, where the tests' PostgreSQL paths do not go."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, uuid, django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from catalog.models import Product
from checkout.services import api_token_for
from stock.models import StockLevel

call_command("migrate", verbosity=0)
call_command("seed_demo", products=40, days=3, verbosity=0)
product = Product.objects.filter(active=True, stock_levels__on_hand__gte=5, lot_tracked=False).first()
client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {api_token_for(get_user_model().objects.get(username='cashier')).key}")
before = client.get(f"/api/products/{product.barcode}").json()["on_hand"]
sale = client.post(
    "/api/sales",
    json.dumps({"client_token": str(uuid.uuid4()), "lines": [{"code": product.barcode, "quantity": "2"}],
                "payments": [{"method": "cash", "amount": "1000.00"}]}),
    content_type="application/json",
)
after = client.get(f"/api/products/{product.barcode}").json()["on_hand"]
call_command("check_stock_ledger", verbosity=0)
print(json.dumps({"engine": django.db.connection.vendor, "status": sale.status_code, "before": before, "after": after}))
"""


def test_the_embedded_demo_seeds_sells_and_keeps_its_ledger_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG")}
    env.update(DJANGO_SETTINGS_MODULE="supermarket.settings", SQLITE_PATH=str(tmp_path / "demo.sqlite3"))
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["engine"] == "sqlite" and shown["status"] == 201, shown
    before = {row["location"]: float(row["on_hand"]) for row in shown["before"]}
    after = {row["location"]: float(row["on_hand"]) for row in shown["after"]}
    # The sale took 2 from the selling location, and the scan right after it shows that.
    assert {code: before[code] - after[code] for code in before} == {
        code: 2 if code == "FLOOR" else 0 for code in before
    }
