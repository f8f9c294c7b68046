"""What a web worker imports before its first request (issue 8: at most 150 MB RSS per worker).

Image decoding (cv2, numpy, Pillow, zbar, zxing-cpp), charts (matplotlib), spreadsheets (openpyxl, which
imports numpy and Pillow) and forecasts (numpy, pandas, statsmodels, scipy) load in the function that needs
them. Each probe runs in a fresh interpreter: this test process has long since imported all of them.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("cv2", "numpy", "matplotlib", "zxingcpp", "pyzbar", "PIL", "openpyxl", "pandas", "statsmodels", "scipy")

WORKER = f"""
import json, sys
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns
import catalog.views, checkout.api, checkout.services, reports.views
print(json.dumps({{
    "heavy": [name for name in {HEAVY!r} if name in sys.modules],
    "rss_mb": int(open("/proc/self/statm").read().split()[1]) * 4096 / 1e6,
}}))
"""

FIRST_XLSX = """
import io, sys
import django
django.setup()
import tablib
from import_export.formats.base_formats import DEFAULT_FORMATS, XLSX
assert XLSX in DEFAULT_FORMATS, "XLSX must still be offered by the admin"
assert "openpyxl" not in sys.modules
data = tablib.Dataset(["6901234567892", "牛奶", 4.5], headers=["barcode", "name", "price"]).export("xlsx")
from openpyxl import load_workbook
print([cell.value for cell in next(load_workbook(io.BytesIO(data)).active.iter_rows(min_row=2))])
"""


def run_fresh(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "supermarket.settings"}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_loading_the_urls_and_request_modules_imports_no_heavy_library():
    result = run_fresh(WORKER)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"RSS after setup, URLconf and request modules: {probe['rss_mb']:.1f} MB")
    assert probe["heavy"] == [], f"imported at worker start: {probe['heavy']} ({probe['rss_mb']:.0f} MB RSS)"


def test_xlsx_loads_openpyxl_on_first_use_and_writes_a_real_workbook():
    result = run_fresh(FIRST_XLSX)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['6901234567892', '牛奶', 4.5]"
