"""Scale benchmark: the scan path and sales over HTTP behind gunicorn, each against a baseline run beside it.

    createdb -h 127.0.0.1 -U postgres sm_perf_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sm_perf_bench REDIS_URL=redis://127.0.0.1:6379/11 SECRET_KEY=x \\
        .venv/bin/python bench/bench_scale.py [--duration 15] [--large 200000]

One gunicorn (supermarket/gunicorn.conf.py, DJANGO_SETTINGS_MODULE=bench.settings: production middleware and
URLs plus the bare hello view and the per-line sale) serves every run; wrk (Debian package) drives it and pgbench
gives the database's own lock-update-insert rates. Prints each figure, its baseline and the ratio.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supermarket.settings")
# Cache keys of their own (the server inherits this): test suites sharing the Redis database bump the
# shared catalog generation all the time, which would empty the benchmark workers' caches.
os.environ.setdefault("CACHE_KEY_PREFIX", "bench-scale")
import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.cpu import cpu_seconds  # noqa: E402
from bench.db import vacuum_analyze  # noqa: E402
from catalog.models import Category, Product, Supplier  # noqa: E402
from catalog.selectors import product_lookup  # noqa: E402
from checkout.models import SaleLine  # noqa: E402
from checkout.services import api_token_for  # noqa: E402
from stock.models import Location, MovementKind, StockLevel  # noqa: E402
from stock.services import Move, stock_move_batch  # noqa: E402
from tests.factories import ean13  # noqa: E402

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
FIRST = 7_000_000  # barcode numbers of the benchmark's products: ean13(FIRST + i)
SOLD = 2000  # products stocked and sold
TILLS = 50  # tills scanning at once in the till scan runs

SCAN_LUA = """
local codes = {}
for line in io.lines("%(codes)s") do codes[#codes + 1] = line end
math.randomseed(os.time() + tonumber(string.match(tostring({}), "0x(%%x+)"), 16) %% 1000003)
wrk.headers["Authorization"] = "Token %(key)s"
request = function()
  return wrk.format("GET", "/api/products/" .. codes[math.random(#codes)])
end
"""

# The hello view requested the way SCAN_LUA requests a scan (a random code, the token header): wrk shares the 2 cores
# with the server, and its Lua work per request is then the same in both runs.
HELLO_LUA = SCAN_LUA.replace('"/api/products/" .. codes', '"/bench/hello?code=" .. codes')

# The till's scan partial: each request is one till (its cashier's session, CSRF token and register cookie, picked
# at random) scanning one of its own 20 products, so every basket stays a real basket's size.
TILL_LUA = """
local tills = {}
for line in io.lines("%(tills)s") do
  local cookie, token, codes = string.match(line, "^([^\t]*)\t([^\t]*)\t(.*)$")
  local list = {}
  for code in string.gmatch(codes, "[^,]+") do list[#list + 1] = code end
  tills[#tills + 1] = {cookie = cookie, token = token, codes = list}
end
math.randomseed(os.time() + tonumber(string.match(tostring({}), "0x(%%x+)"), 16) %% 1000003)
request = function()
  local till = tills[math.random(#tills)]
  local headers = {["Cookie"] = till.cookie, ["X-CSRFToken"] = till.token, ["HX-Request"] = "true",
                   ["Content-Type"] = "application/x-www-form-urlencoded"}
  return wrk.format("POST", "/checkout/scan/", headers, "code=" .. till.codes[math.random(#till.codes)])
end
"""

SALE_LUA = """
local codes = {}
for line in io.lines("%(codes)s") do codes[#codes + 1] = line end
math.randomseed(os.time() + tonumber(string.match(tostring({}), "0x(%%x+)"), 16) %% 1000003)
wrk.headers["Authorization"] = "Token %(key)s"
wrk.headers["Content-Type"] = "application/json"
local hot = "%(hot)s"
local function uuid()
  return string.gsub("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", "[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%%x", v)
  end)
end
request = function()
  local lines, seen = {}, {}
  if hot ~= "" then lines[1] = '{"code": "' .. hot .. '"}'; seen[hot] = true end
  while #lines < 5 do
    local code = codes[math.random(#codes)]
    if not seen[code] then seen[code] = true; lines[#lines + 1] = '{"code": "' .. code .. '"}' end
  end
  local body = '{"client_token": "' .. uuid() .. '", "lines": [' .. table.concat(lines, ", ")
    .. '], "payments": [{"method": "cash", "amount": "10000.00"}]}'
  return wrk.format("POST", "%(path)s", nil, body)
end
response = function(status, headers, body)
  if status ~= 201 and status ~= 200 then io.stderr:write(status .. " " .. body:sub(1, 200) .. "\\n") end
end
"""

PGBENCH_SETUP = """
DROP TABLE IF EXISTS bench_level, bench_ledger;
CREATE TABLE bench_level (id int PRIMARY KEY, on_hand numeric(14, 3) NOT NULL);
CREATE TABLE bench_ledger (id bigserial PRIMARY KEY, level_id int NOT NULL, quantity numeric(14, 3),
                           balance_after numeric(14, 3), created_at timestamptz DEFAULT now());
INSERT INTO bench_level SELECT g, 1000000 FROM generate_series(1, 100000) g;
"""

PGBENCH_SCRIPT = """
\\set id %(id)s
BEGIN;
SELECT on_hand FROM bench_level WHERE id = :id FOR UPDATE;
UPDATE bench_level SET on_hand = on_hand - 1 WHERE id = :id;
INSERT INTO bench_ledger (level_id, quantity, balance_after) VALUES (:id, -1, 0);
END;
"""


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two readings by the processes running at the second (one that ended is left out)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def server_pids() -> list[int]:
    """The gunicorn workers serving the benchmark."""
    if SERVER is None:
        return []
    return [int(pid) for pid in Path(f"/proc/{SERVER.pid}/task/{SERVER.pid}/children").read_text().split()]


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on the machine: their CPU is this benchmark's only when nothing else runs."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def wrk(url: str, connections: int, duration: int, script: str | None = None) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency"]
    if script:
        command += ["-s", script]
    drain()
    load = os.getloadavg()[0]
    web, database = server_pids(), postgres_pids()
    web_before, database_before = cpu_seconds(web), cpu_seconds(database)
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    drain()
    web_cpu = cpu_used(web_before, cpu_seconds(web))
    database_cpu = cpu_used(database_before, cpu_seconds(postgres_pids()))
    text = out.stdout

    def ms(label: str) -> float:
        match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", text)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = int(re.search(r"(\d+) requests in", text).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket = re.search(r"Socket errors: (.*)", text)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "avg": ms("Latency"),
        "p99": ms("99%"),
        "requests": requests,
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket": socket.group(1) if socket else "",
        "stderr": out.stderr.strip()[:300],
        "load": load,
        # CPU per request: the workers' own is exact whatever else runs; PostgreSQL's counts every backend.
        "web_cpu_ms": 1000 * web_cpu / max(1, requests),
        "db_cpu_ms": 1000 * database_cpu / max(1, requests),
    }


def combined(*runs: dict) -> dict:
    """Runs of the same thing as one: mean throughput and latency, worst p99, CPU per request over all."""
    requests = sum(r["requests"] for r in runs)
    return {
        "rps": sum(r["rps"] for r in runs) / len(runs),
        "avg": sum(r["avg"] for r in runs) / len(runs),
        "p99": max(r["p99"] for r in runs),
        "requests": requests,
        "non2xx": sum(r["non2xx"] for r in runs),
        "socket": "; ".join(r["socket"] for r in runs if r["socket"]),
        "stderr": next((r["stderr"] for r in runs if r["stderr"]), ""),
        "load": sum(r["load"] for r in runs) / len(runs),
        "web_cpu_ms": sum(r["web_cpu_ms"] * r["requests"] for r in runs) / max(1, requests),
        "db_cpu_ms": sum(r["db_cpu_ms"] * r["requests"] for r in runs) / max(1, requests),
    }


def drain() -> None:
    """Wait until the server has worked off the connections a run left queued in its backlog."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            urllib.request.urlopen(f"{BASE}/bench/hello", timeout=30).read()
        except OSError:
            continue
        if time.perf_counter() - started < 0.1:
            return
        time.sleep(1)


def show(name: str, result: dict) -> None:
    extra = f", non-2xx {result['non2xx']}" if result["non2xx"] else ""
    extra += f", socket errors: {result['socket']}" if result["socket"] else ""
    print(
        f"  {name:<44} {result['rps']:>8.0f} req/s  avg {result['avg']:7.1f} ms  p99 {result['p99']:7.1f} ms"
        f"  ({result['requests']} requests{extra}; load {result['load']:.1f};"
        f" CPU per request: web {result['web_cpu_ms']:.2f} ms, PostgreSQL {result['db_cpu_ms']:.2f} ms)",
        flush=True,
    )
    if result["stderr"]:
        print(f"    stderr: {result['stderr']}")


def pgbench(clients: int, duration: int, hot: bool) -> float:
    dsn = settings.DATABASES["default"]
    script = Path(tempfile.mkstemp(suffix=".sql")[1])
    script.write_text(PGBENCH_SCRIPT % {"id": "1" if hot else "random(1, 100000)"})
    out = subprocess.run(
        ["pgbench", "-n", "-f", str(script), f"-c{clients}", "-j2", f"-T{duration}",
         "-h", dsn["HOST"], "-p", str(dsn["PORT"] or 5432), "-U", dsn["USER"], dsn["NAME"]],
        capture_output=True, text=True, env={**os.environ, "PGPASSWORD": dsn.get("PASSWORD") or ""},
    )  # fmt: skip
    if out.returncode:
        raise SystemExit(f"pgbench failed: {out.stderr.strip()[-500:]}")
    return float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))


def products_ensure(total: int) -> list[str]:
    """At least `total` benchmark products (bulk insert: benchmark data, no history); the first SOLD stocked."""
    category, _ = Category.objects.get_or_create(name="基准 Bench", parent=None)
    supplier, _ = Supplier.objects.get_or_create(name="基准供应商 Bench")
    have = Product.objects.filter(name__startswith="基准商品").count()
    batch = []
    for i in range(have, total):
        batch.append(
            Product(
                barcode=ean13(FIRST + i), name=f"基准商品 {i}", name_en=f"Bench product {i}", category=category,
                supplier=supplier, purchase_price=Decimal("3.2000"), selling_price=Decimal("4.50"),
            )
        )  # fmt: skip
        if len(batch) == 10_000:
            Product.objects.bulk_create(batch)
            batch = []
    Product.objects.bulk_create(batch)
    return [ean13(FIRST + i) for i in range(total)]


def stock_ensure(codes: list[str], location: Location) -> None:
    products = list(Product.objects.filter(barcode__in=codes))
    stocked = set(
        StockLevel.objects.filter(product__in=products, location=location, on_hand__gte=100_000).values_list(
            "product_id", flat=True
        )
    )
    moves = [Move(p, location, Decimal(1_000_000)) for p in products if p.pk not in stocked]
    for start in range(0, len(moves), 500):
        stock_move_batch(moves=moves[start : start + 500], kind=MovementKind.RECEIPT, reference="bench")


SERVER: subprocess.Popen | None = None


def server_start(workers: str) -> subprocess.Popen:
    global SERVER
    try:
        urllib.request.urlopen(f"{BASE}/bench/hello", timeout=1)
        raise SystemExit(f"something already answers on port {PORT}; stop it first")
    except OSError:
        pass
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "PORT": str(PORT),
        "REQUEST_LOG_LEVEL": "WARNING",
        "LOG_LEVEL": "WARNING",
        # No recycling: the memory figure is taken after every request of the run.
        "GUNICORN_MAX_REQUESTS": "10000000",
    }
    if workers:
        env["WEB_CONCURRENCY"] = workers
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "supermarket/gunicorn.conf.py", "supermarket.wsgi"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open("/tmp/bench_scale_gunicorn.log", "w"),
    )  # fmt: skip
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{BASE}/bench/hello", timeout=1)
            SERVER = server
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start; see /tmp/bench_scale_gunicorn.log")


def worker_rss_mb(server: subprocess.Popen) -> list[float]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
    return sizes


def ledger_ok() -> bool:
    try:
        call_command("check_stock_ledger", verbosity=0)
    except SystemExit as exit_:
        return not exit_.code
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--workers", default="")
    parser.add_argument("--growth-only", action="store_true", help="only the catalog growth part")
    parser.add_argument("--scan-only", action="store_true", help="only the API scan against hello")
    parser.add_argument("--sales-only", action="store_true", help="only the sales against their baselines")
    parser.add_argument("--till-only", action="store_true", help="only the till's scan partial against hello")
    args = parser.parse_args()

    call_command("migrate", verbosity=0, skip_checks=True)
    catalog_shrink(args.small)  # the large catalog of a run that was stopped
    location = Location.default()
    user, _ = get_user_model().objects.get_or_create(username="bench-client")
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_product", "add_sale", "view_sale"], content_type__app_label__in=["catalog", "checkout"]
        )
    )
    key = api_token_for(user).key
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    codes = products_ensure(args.small)
    stock_ensure(codes[:SOLD], location)
    sold_codes = tmp / "sold.txt"
    sold_codes.write_text("\n".join(codes[:SOLD]) + "\n")
    hot = codes[0]

    def lua(name: str, template: str, **values) -> str:
        path = tmp / name
        path.write_text(template % {"key": key, **values})
        return str(path)

    scan_small = lua("scan-small.lua", SCAN_LUA, codes=sold_codes)
    with connection.cursor() as cursor:
        cursor.execute(PGBENCH_SETUP)

    if not args.growth_only:
        http_runs(args, key, codes, scan_small, lua, sold_codes, hot, location)
    if not (args.scan_only or args.sales_only or args.till_only):
        growth(args, codes, scan_small, lua, tmp)


def tills_ensure(count: int, codes: list[str], location: Location, path: Path) -> str:
    """count tills, each a cashier logged in on its own register with an open shift; one line per till for
    TILL_LUA: session and register cookies, CSRF token, its 20 products. Returns the file's path."""
    from checkout.models import Register, Shift
    from checkout.services import cart_cancel, shift_open
    from checkout.views import REGISTER_COOKIE
    from supermarket.roles import CASHIER, user_set_role

    lines = []
    for i in range(count):
        register, _ = Register.objects.get_or_create(
            code=f"B{i:03d}", defaults={"name": f"Bench till {i}", "location": location}
        )
        user, created = get_user_model().objects.get_or_create(username=f"bench-till-{i}")
        if created:
            user_set_role(user=user, role=CASHIER)
        if not Shift.objects.filter(register=register, closed_at__isnull=True).exists():
            shift_open(register=register, opening_float=Decimal(100), user=user)
        for cart in register.carts.all():
            cart_cancel(cart=cart)
        client = Client(HTTP_HOST="127.0.0.1", enforce_csrf_checks=True)
        client.force_login(user)
        client.get("/checkout/register/")
        token = client.cookies[settings.CSRF_COOKIE_NAME].value
        chosen = client.post("/checkout/register/", {"register": register.pk, "csrfmiddlewaretoken": token})
        assert chosen.status_code == 302, chosen.content[:300]
        names = (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, REGISTER_COOKIE)
        cookie = "; ".join(f"{name}={client.cookies[name].value}" for name in names)
        lines.append(f"{cookie}\t{token}\t{','.join(codes[20 * i : 20 * i + 20])}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def warm_up(script: str) -> None:
    """Scan until every worker's product cache holds the codes (steady state at a store: the same products all
    day). Each scan reaches one worker at random, so a code is still a miss in a worker with odds
    e^-(scans per worker / codes): rounds of scans until the throughput stops rising (under 3% from one round to
    the next)."""
    rounds = [wrk(BASE, 100, 10, script)]
    while len(rounds) < 8:
        rounds.append(wrk(BASE, 100, 10, script))
        if rounds[-1]["rps"] < 1.03 * rounds[-2]["rps"]:
            break
    print(
        f"  warm-up: {sum(r['requests'] for r in rounds)} scans at 100 connections, req/s by round: "
        + ", ".join(f"{r['rps']:.0f}" for r in rounds)
    )


def till_runs(args, lua, codes, sold_codes, location, hello=None) -> tuple[dict, dict]:
    """The till's scan partial at 1,000 and at 100 connections; its ratio against the hello measured in the scan
    part, or (alone) against a hello run before and after it, in mirrored order."""
    d = args.duration
    till_lua = lua(
        "till.lua", TILL_LUA, tills=tills_ensure(TILLS, codes[:SOLD], location, sold_codes.parent / "tills.txt")
    )
    vacuum_analyze()
    wrk(BASE, 100, d, till_lua)  # every till's session, user and register in every worker's caches
    if hello is None:
        runs = [wrk(f"{BASE}/bench/hello", 1000, d), wrk(BASE, 1000, d, till_lua)]
        runs += [wrk(BASE, 1000, d, till_lua), wrk(f"{BASE}/bench/hello", 1000, d)]
        hello, till = combined(runs[0], runs[3]), combined(runs[1], runs[2])
        show("baseline: bare hello view, 1000 connections (2 runs)", hello)
    else:
        till = wrk(BASE, 1000, d, till_lua)
    show(f"till scan partial ({TILLS} tills), 1000 connections", till)
    print(f"  ratio till scan/hello throughput: {till['rps'] / hello['rps']:.2f} (target >= 0.95)")
    till100 = wrk(BASE, 100, d, till_lua)
    show(f"till scan partial ({TILLS} tills), 100 connections", till100)
    print(f"  p99 at 100 connections: {till100['p99']:.1f} ms (target <= 60 ms)")
    return till, till100


def http_runs(args, key, codes, scan_small, lua, sold_codes, hot, location) -> None:
    print_round_trips(key, codes[:SOLD])
    vacuum_analyze()
    cpus = os.cpu_count()
    server = server_start(args.workers)
    d = args.duration
    try:
        print(f"machine: {cpus} cores, load average {os.getloadavg()[0]:.1f}; gunicorn {server_config()}")
        if args.sales_only:
            warm_up(scan_small)  # the product caches, as the scan part leaves them
            sales(args, lua, sold_codes, hot, location)
            return
        if args.till_only:
            till_runs(args, lua, codes, sold_codes, location)
            return
        print(f"scan path ({args.small} products):")
        warm_up(scan_small)
        # Each run twice, in mirrored order (hello, alike, scan, scan, alike, hello): the machine's speed drifts
        # over minutes, and the mean of the two cancels a steady drift out of the ratios.
        hello_lua = lua("hello.lua", HELLO_LUA, codes=sold_codes)
        order = [(f"{BASE}/bench/hello", None), (BASE, hello_lua), (BASE, scan_small)]
        first = [wrk(url, 1000, d, script) for url, script in order]
        second = [wrk(url, 1000, d, script) for url, script in reversed(order)][::-1]
        hello, hello_alike, scan = (combined(a, b) for a, b in zip(first, second, strict=True))
        show("baseline: bare hello view, 1000 connections (2 runs)", hello)
        show("baseline: hello, requested like the scans (2 runs)", hello_alike)
        show("GET /api/products/<code>, 1000 connections (2 runs)", scan)
        print(
            f"  ratio scan/hello throughput: {scan['rps'] / hello_alike['rps']:.2f} against hello requested alike,"
            f" {scan['rps'] / hello['rps']:.2f} against the plain one (target >= 0.95)"
        )
        scan100 = wrk(BASE, 100, d, scan_small)
        show("GET /api/products/<code>, 100 connections", scan100)
        print(f"  p99 at 100 connections: {scan100['p99']:.1f} ms (target <= 60 ms)")
        if args.scan_only:
            return
        till, till100 = till_runs(args, lua, codes, sold_codes, location, hello)

        naive, fast, hot_sales = sales(args, lua, sold_codes, hot, location)

        total = (
            hello["requests"]
            + hello_alike["requests"]
            + scan["requests"]
            + scan100["requests"]
            + till["requests"]
            + till100["requests"]
        )
        total += naive["requests"] + fast["requests"] + hot_sales["requests"]
        scans = scan["requests"] + scan100["requests"]
        while total < 100_000:
            # Mostly hello requests: on this shared machine scans alone would take most of an hour.
            filled = wrk(BASE, 100, d, scan_small)["requests"]
            scans += filled
            total += filled + wrk(f"{BASE}/bench/hello", 100, 3 * d)["requests"]
        rss = worker_rss_mb(server)
        print(
            f"memory after {total} requests ({scans} scans, 2,000 cached products) over {len(rss)} workers: RSS "
            + ", ".join(f"{mb:.0f}" for mb in rss)
            + " MB (target <= 150 MB each)"
        )
    finally:
        server.terminate()
        server.wait()


def sales(args, lua, sold_codes, hot, location) -> tuple[dict, dict, dict]:
    """The 5-line sale against the per-line one, then with a hot product against pgbench's hot row. Each pair twice,
    in mirrored order (baseline, ours, ours, baseline), compared by the means: the machine's speed drifts over
    minutes, and a steady drift cancels out."""
    d = args.duration
    print("sales (5 lines, 100 clients):")
    before = SaleLine.objects.count()
    naive_lua = lua("naive.lua", SALE_LUA, codes=sold_codes, hot="", path="/bench/sale-per-line")
    sale_lua = lua("sale.lua", SALE_LUA, codes=sold_codes, hot="", path="/api/sales")
    hot_lua = lua("hot.lua", SALE_LUA, codes=sold_codes, hot=hot, path="/api/sales")

    def run(script: str) -> dict:
        vacuum_analyze()
        return wrk(BASE, 100, d, script)

    def pgbench_hot() -> float:
        vacuum_analyze()
        # 50 clients: the server allows 100 connections and other clients hold some.
        return pgbench(50, d, hot=True)

    naive_runs = [run(naive_lua)]
    fast_runs = [run(sale_lua), run(sale_lua)]
    naive_runs.append(run(naive_lua))
    naive, fast = combined(*naive_runs), combined(*fast_runs)
    show("baseline: per-line ORM sale (2 runs)", naive)
    show("POST /api/sales (2 runs)", fast)
    print(
        f"  ratio: {fast['rps'] / naive['rps']:.2f}x the per-line sale (target >= 3x, >= 500 sales/s); sales/s by run:"
        f" per-line {naive_runs[0]['rps']:.0f}, ours {fast_runs[0]['rps']:.0f}, {fast_runs[1]['rps']:.0f},"
        f" per-line {naive_runs[1]['rps']:.0f}"
    )
    hot_before = StockLevel.objects.get(product__barcode=hot, location=location, lot=None).on_hand
    hot_lines_before = SaleLine.objects.filter(product__barcode=hot).count()
    hot_runs = [run(hot_lua)]
    pg_hot_runs = [pgbench_hot(), pgbench_hot()]
    hot_runs.append(run(hot_lua))
    hot_sales, pg_hot = combined(*hot_runs), sum(pg_hot_runs) / 2
    show("POST /api/sales, every sale with one hot product (2 runs)", hot_sales)
    vacuum_analyze()
    pg_random = pgbench(50, d, hot=False)
    print(f"  baseline pgbench lock-update-insert, 50 clients: hot row {pg_hot:.0f} tps, random rows {pg_random:.0f}")
    print(
        f"  ratio hot sales / pgbench hot row: {hot_sales['rps'] / pg_hot:.2f} (target >= 0.40); by run: ours"
        f" {hot_runs[0]['rps']:.0f}, pgbench {pg_hot_runs[0]:.0f}, {pg_hot_runs[1]:.0f}, ours {hot_runs[1]['rps']:.0f}"
    )
    hot_after = StockLevel.objects.get(product__barcode=hot, location=location, lot=None).on_hand
    hot_sold = SaleLine.objects.filter(product__barcode=hot).count() - hot_lines_before
    print(
        f"  hot product: on-hand fell by {hot_before - hot_after}, lines sold {hot_sold}"
        f" ({'no lost update' if hot_before - hot_after == hot_sold else 'MISMATCH'});"
        f" {SaleLine.objects.count() - before} sale lines written; check_stock_ledger"
        f" {'passes' if ledger_ok() else 'FAILS'}"
    )
    return naive, fast, hot_sales


def growth(args, codes, scan_small, lua, tmp) -> None:
    """The scan's p99 with the small catalog against the large one. Each twice, in mirrored order (small, large,
    large, small): the machine's speed drifts over minutes, and the mean of the two cancels a steady drift out of the
    ratio. The same number of codes each time, the large run's spread over the whole catalog (a store's day scans a
    small part of a large catalog), every run warmed alike, so only the catalog's size differs."""
    d = args.duration
    runs = {"small": [], "large": []}

    def scan(name: str, script: str) -> None:
        warm_up(script)
        runs[name].append(wrk(BASE, 100, d, script))
        show(f"scan, {SOLD} codes of {Product.objects.count()} products, 100 connections", runs[name][-1])

    print(f"catalog growth ({Product.objects.count()} -> {args.large}+ products):")
    print_lookup_times(codes[:SOLD], f"catalog of {Product.objects.count()}")
    server = server_start(args.workers)
    try:
        scan("small", scan_small)
        started = time.perf_counter()
        all_codes = products_ensure(args.large)
        print(f"  {args.large} products present ({time.perf_counter() - started:.0f} s); VACUUM ANALYZE")
        vacuum_analyze()
        print_lookup_times(all_codes, f"catalog of {Product.objects.count()}")
        large_codes = tmp / "large.txt"
        large_codes.write_text("\n".join(random.Random(11).sample(all_codes, SOLD)) + "\n")
        scan_large = lua("scan-large.lua", SCAN_LUA, codes=large_codes)
        scan("large", scan_large)
        scan("large", scan_large)
        rss = worker_rss_mb(server)
        print("  worker RSS after scanning the large catalog: " + ", ".join(f"{mb:.0f}" for mb in rss) + " MB")
        catalog_shrink(args.small)
        vacuum_analyze()
        scan("small", scan_small)
        p99 = {name: [r["p99"] for r in done] for name, done in runs.items()}
        mean = {name: sum(values) / len(values) for name, values in p99.items()}
        print(
            f"  p99 at 100 connections, {args.small} products: "
            + ", ".join(f"{v:.1f}" for v in p99["small"])
            + f" ms; {args.large}: "
            + ", ".join(f"{v:.1f}" for v in p99["large"])
            + f" ms; ratio of the means large/small: {mean['large'] / mean['small']:.2f} (target <= 1.10)"
        )
    finally:
        server.terminate()
        server.wait()
        catalog_shrink(args.small)


def catalog_shrink(total: int) -> None:
    """Delete the benchmark products past the first `total` (they have no stock, lines or history): the small
    catalog is small again."""
    keep = Product.objects.filter(barcode__in=[ean13(FIRST + i) for i in range(total)]).values_list("pk", flat=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Product._meta.db_table} WHERE name LIKE %s AND NOT (id = ANY(%s))",
            ["基准商品 %", list(keep)],
        )
        if cursor.rowcount:
            print(f"  {cursor.rowcount} benchmark products past the first {total} deleted")


def print_round_trips(key: str, codes: list[str]) -> None:
    """Queries per request, counted in this process: the cost the machine's load does not change."""
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {key}")

    def sale(n: int) -> str:
        lines = [{"code": code} for code in codes[5 * n : 5 * n + 5]]
        body = {"client_token": str(uuid.uuid4()), "lines": lines, "payments": [{"method": "cash", "amount": "999"}]}
        return json.dumps(body)

    with override_settings(ROOT_URLCONF="bench.urls"):
        counts = {}
        for name, send in (
            ("hello", lambda n: client.get("/bench/hello")),
            ("scan, cached", lambda n: client.get(f"/api/products/{codes[0]}")),
            ("sale, 5 lines (POST /api/sales)", lambda n: client.post("/api/sales", sale(n), "application/json")),
            (
                "sale, 5 lines, per line",
                lambda n: client.post("/bench/sale-per-line", sale(n + 50), "application/json"),
            ),
        ):
            send(0)
            with CaptureQueriesContext(connection) as queries:
                response = send(1)
            assert response.status_code in (200, 201), response.content
            counts[name] = len(queries)
    print("queries per request: " + ", ".join(f"{name} {n}" for name, n in counts.items()))


def print_lookup_times(codes: list[str], label: str, n: int = 1000) -> None:
    """A scan's database read on a cache miss (the product by its code), in this process, n random codes."""
    rng = random.Random(7)
    times = []
    for code in rng.sample(codes, min(n, len(codes))):
        started = time.perf_counter()
        product_lookup(code)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99)]
    print(f"  uncached lookup, {label}: median {p50:.2f} ms, p99 {p99:.2f} ms (load {os.getloadavg()[0]:.1f})")


def server_config() -> str:
    workers = os.getenv("WEB_CONCURRENCY") or (os.cpu_count() or 1) * 2
    return f"{workers} sync workers, CONN_MAX_AGE={settings.DATABASES['default']['CONN_MAX_AGE']}"


if __name__ == "__main__":
    main()
