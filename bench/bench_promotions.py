"""Promotions benchmark: what 200 active promotion rules add to a till scan (the HTMX basket fragment, priced by
checkout.pricing.price_lines), against the same scans with no promotion, on the 2,000-product demo catalog.

    createdb -h 127.0.0.1 -U postgres sm_bench_promo
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sm_bench_promo SECRET_KEY=x \\
        .venv/bin/python bench/bench_promotions.py [--scans 2000] [--rules 200] [--seed 5]

Scans alternate one by one between no rules (an empty rule book) and the rules, so that load from other processes
on a shared machine falls on both arms alike.
Target (the baseline of the ratio): the rules add at most 5 ms to the median scan. Also printed: price_lines alone
for a 20-line basket, and loading the rules into a process (what the first scan after a promotion change pays).
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_checkout import percentile, prepare, till_client  # noqa: E402 (sets Django up)
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from catalog.models import Category, Product  # noqa: E402
from checkout import promotions  # noqa: E402
from checkout.models import Promotion  # noqa: E402
from checkout.pricing import LineInput, price_lines  # noqa: E402
from checkout.promotions import RuleBook, load_rule_book, rules_changed  # noqa: E402
from checkout.services import shift_open  # noqa: E402

TARGET_MS = 5.0
PREFIX = "bench "
Kind, Scope = Promotion.Kind, Promotion.Scope


def make_rules(n: int, products: list[Product], rng: random.Random) -> None:
    """n active rules shaped like a busy promotion week: mostly product promotions (many on the scanned items),
    some by category, a few store-wide and basket discounts, some with limits."""
    Promotion.objects.filter(name__startswith=PREFIX).delete()
    now = timezone.now()
    categories = list(Category.objects.values_list("pk", flat=True))
    kinds = [
        (Kind.PERCENT_OFF, {"value": Decimal(10)}),
        (Kind.FIXED_PRICE, {"value": Decimal("1.00")}),
        (Kind.AMOUNT_OFF, {"value": Decimal("0.50")}),
        (Kind.MULTI_PRICE, {"value": Decimal("5.00"), "buy_quantity": 3}),
        (Kind.BUY_GET_FREE, {"buy_quantity": 2, "free_quantity": 1}),
    ]
    for i in range(n):
        kind, fields = kinds[i % len(kinds)]
        scope = Scope.PRODUCTS
        if i % 10 == 7:
            scope = Scope.CATEGORIES
        if i % 50 == 3:
            scope, kind, fields = Scope.STORE, Kind.PERCENT_OFF, {"value": Decimal(2)}
        if i % 40 == 9:
            scope, kind, fields = Scope.STORE, Kind.BASKET, {"value": Decimal(5), "threshold": Decimal(50 + i)}
        promotion = Promotion.objects.create(
            name=f"{PREFIX}{i}",
            kind=kind,
            scope=scope,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=7),
            quantity_limit=Decimal(1_000_000) if i % 3 == 0 else None,
            limit_per_sale=Decimal(10) if i % 4 == 0 else None,
            **fields,
        )
        if scope == Scope.PRODUCTS:
            promotion.products.set(rng.sample(products, rng.randint(1, 5)))
        elif scope == Scope.CATEGORIES:
            promotion.categories.set(rng.sample(categories, 1))


def scans_alternating(client, products: list[Product], n: int, rng: random.Random) -> tuple[list[float], list[float]]:
    """Till scans, every other one priced with no rules (an empty rule book) and the rest with the rules: the two
    arms share the same baskets and the same moments of load from other processes, so their medians compare."""
    real, empty = promotions.rule_book, RuleBook()
    timings: tuple[list[float], list[float]] = ([], [])
    try:
        for i in range(n + 50):
            if i % 20 == 0:
                client.post("/checkout/cancel/", HTTP_HX_REQUEST="true")  # a new basket every 20 scans, not timed
            with_rules = i % 2
            promotions.rule_book = real if with_rules else (lambda: empty)
            code = rng.choice(products).barcode
            started = time.perf_counter()
            response = client.post("/checkout/scan/", {"code": code}, HTTP_HX_REQUEST="true")
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.content[:300]
            if i >= 50:  # the first 50 warm up connections, caches and the rule book
                timings[with_rules].append(elapsed)
    finally:
        promotions.rule_book = real
        client.post("/checkout/cancel/", HTTP_HX_REQUEST="true")
    return timings


def time_price_lines(products: list[Product], rng: random.Random, n: int = 500) -> tuple[list[float], float]:
    """price_lines alone for 20-line baskets; also the share of lines that got a promotion."""
    timings, promoted = [], 0
    for _ in range(n):
        lines = [LineInput(product=p, quantity=Decimal(rng.randint(1, 4))) for p in rng.sample(products, 20)]
        started = time.perf_counter()
        totals = price_lines(lines)
        timings.append((time.perf_counter() - started) * 1000)
        promoted += sum(1 for line in totals.lines if line.promotion)
    return timings, promoted / (n * 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=2000, help="scans in all, half of them with the rules")
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    register, products, user = prepare(args.seed)
    shift_open(register=register, opening_float=Decimal("500"), user=user)
    make_rules(args.rules, products, rng)
    live = Promotion.objects.filter(name__startswith=PREFIX).count()
    print(
        f"catalog: {Product.objects.count()} products; {live} rules; machine: {os.cpu_count()} cores; {connection.vendor}"
    )

    rules_changed()
    client = till_client(user, register)
    without, with_rules = scans_alternating(client, products, args.scans, rng)
    real = promotions.rule_book
    try:
        promotions.rule_book = RuleBook
        price_without, _none = time_price_lines(products, rng)
    finally:
        promotions.rule_book = real
    price_with, promoted = time_price_lines(products, rng)
    loads = []
    for _ in range(20):
        started = time.perf_counter()
        load_rule_book()
        loads.append((time.perf_counter() - started) * 1000)

    added = statistics.median(with_rules) - statistics.median(without)
    print(f"\n{'figure':36} {'ms':>8}")
    for name, value in [
        ("scan median, no promotions", statistics.median(without)),
        (f"scan median, {live} rules", statistics.median(with_rules)),
        ("scan p99, no promotions", percentile(without, 99)),
        (f"scan p99, {live} rules", percentile(with_rules, 99)),
        ("price_lines 20 lines, no promotions", statistics.median(price_without)),
        (f"price_lines 20 lines, {live} rules", statistics.median(price_with)),
        (f"loading {live} rules (median of 20)", statistics.median(loads)),
    ]:
        print(f"{name:36} {value:8.2f}")
    print(f"\nlines with a promotion in the 20-line baskets: {promoted:.0%}; scans per arm: {len(with_rules)}")
    print(f"added to the median scan: {added:.2f} ms; target <= {TARGET_MS:.0f} ms; ratio {added / TARGET_MS:.2f}")


if __name__ == "__main__":
    main()
