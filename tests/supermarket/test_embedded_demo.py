"""The one-command demo runs on the embedded SQLite database, where the tests' PostgreSQL paths do not go."""

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
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
# The till on SQLite: the cashier's session and user, the basket's lines with their on-hand, its cached products.
from checkout.models import Register
till = Client(HTTP_HOST="127.0.0.1")
till.force_login(get_user_model().objects.get(username="cashier"))
till.post("/checkout/register/", {"register": Register.objects.filter(active=True, online=False).first().pk})
till.post("/checkout/shift/open/", {"opening_float": "200.00"})  # as the till page asks first
scans = [till.post("/checkout/scan/", {"code": product.barcode}, HTTP_HX_REQUEST="true") for _ in range(2)]
basket = scans[-1].content.decode()
call_command("check_stock_ledger", verbosity=0)
print(json.dumps({"engine": django.db.connection.vendor, "status": sale.status_code, "before": before, "after": after,
                  "scans": [r.status_code for r in scans], "basket": basket}))
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
    # Two scans of the product: one line of 2, and what is left on the floor after this basket.
    assert shown["scans"] == [200, 200]
    quantities = re.findall(r'<td class="num qty">([^<]+)</td>', shown["basket"])
    left = re.findall(r'<td class="num on-hand[^"]*">([^<]+)</td>', shown["basket"])
    assert quantities == ["2"] and [Decimal(x) for x in left] == [Decimal(str(after_floor(shown))) - 2]


def after_floor(shown: dict) -> float:
    return next(float(row["on_hand"]) for row in shown["after"] if row["location"] == "FLOOR")
