"""The promotion rules engine: which promotions apply to a basket, what they take off, and the promotional
quantities they use up. checkout.pricing.price_lines calls `discounts`; sale_complete calls `promotion_claim`.

The rules in force are kept per process (`rule_book`, a supermarket.localcache.GenerationCache) and reloaded when
a promotion changes or a limited one runs out, so pricing costs no query per line or per rule, and its check of the
shared generation rides on the one cache read a request makes for all the per-process caches.
docs/PROMOTIONS.md states the precedence.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Category, Product
from checkout.models import Promotion
from supermarket.localcache import GenerationCache
from supermarket.money import FEN, money, quantity_text

ZERO = Decimal("0")
ONE = Decimal("1")
HUNDRED = Decimal("100")
Kind, Scope = Promotion.Kind, Promotion.Scope

# A backstop for what no version bump reports (a category moved under another, a window opening later than load
# time is handled by the rules themselves): rules are reloaded at least this often.
RELOAD_SECONDS = 60.0


@dataclass(frozen=True)
class Rule:
    """A promotion as pricing needs it: plain values, with its categories expanded to their subcategories."""

    pk: int
    name: str
    kind: str
    scope: str
    value: Decimal
    group: int  # units in one group of a multi-buy (Promotion.group_size), 0 for the other kinds
    free: int
    threshold: Decimal | None
    stackable: bool
    starts_at: datetime
    ends_at: datetime
    limit_per_sale: Decimal | None
    quantity_left: Decimal | None
    product_ids: frozenset[int]
    category_ids: frozenset[int]

    def live(self, now: datetime) -> bool:
        # The window includes its start and excludes its end: a promotion ending at midnight is over at midnight.
        return self.starts_at <= now < self.ends_at

    def covers(self, product: Product) -> bool:
        return (
            self.scope == Scope.STORE
            or product.pk in self.product_ids
            or (self.scope == Scope.CATEGORIES and product.category_id in self.category_ids)
        )

    def amount(self, price: Decimal, quantity: Decimal, allowed: Decimal, by_weight: bool) -> tuple[Decimal, Decimal]:
        """What `quantity` units at shelf price `price` cost when `allowed` of them may be promotional, and how many
        promotional units that uses. The units beyond `allowed` (or outside a complete multi-buy group) pay `price`.
        For goods sold by the piece `allowed` is whole (`discounts` rounds it down)."""
        if self.kind in (Kind.MULTI_PRICE, Kind.BUY_GET_FREE):
            if by_weight:
                return money(price * quantity), ZERO
            groups = (allowed / self.group).to_integral_value(ROUND_FLOOR)
            used = groups * self.group
            if self.kind == Kind.MULTI_PRICE:
                return groups * self.value + money(price * (quantity - used)), used
            return money(price * (quantity - groups * self.free)), used
        if self.kind == Kind.PERCENT_OFF:
            unit = money(price * (HUNDRED - self.value) / HUNDRED)
        elif self.kind == Kind.FIXED_PRICE:
            unit = min(self.value, price)
        else:
            unit = max(price - self.value, ZERO)
        return money(unit * allowed) + money(price * (quantity - allowed)), allowed


@dataclass
class RuleBook:
    """The promotions not yet over, indexed so that a line finds its candidates without scanning all rules."""

    by_product: dict[int, list[Rule]] = field(default_factory=dict)
    by_category: dict[int, list[Rule]] = field(default_factory=dict)
    store: list[Rule] = field(default_factory=list)
    basket: list[Rule] = field(default_factory=list)

    def line_rules(self, product: Product, now: datetime) -> list[Rule]:
        found = self.by_product.get(product.pk, []) + self.by_category.get(product.category_id, []) + self.store
        return [r for r in found if r.live(now)]


def _descendants(categories: Sequence[int], children: dict[int | None, list[int]]) -> frozenset[int]:
    seen, todo = set(), list(categories)
    while todo:
        pk = todo.pop()
        if pk not in seen:
            seen.add(pk)
            todo.extend(children.get(pk, ()))
    return frozenset(seen)


def load_rule_book(now: datetime | None = None) -> RuleBook:
    """Read the active promotions not over at `now` into a RuleBook (four queries, plain values: no model
    instances for the products and categories they cover)."""
    now = now or timezone.now()
    promotions = list(Promotion.objects.filter(active=True, ends_at__gt=now).order_by("pk"))
    ids = [p.pk for p in promotions]
    products: dict[int, list[int]] = {}
    for promotion_id, product_id in Promotion.products.through.objects.filter(promotion_id__in=ids).values_list(
        "promotion_id", "product_id"
    ):
        products.setdefault(promotion_id, []).append(product_id)
    categories: dict[int, list[int]] = {}
    for promotion_id, category_id in Promotion.categories.through.objects.filter(promotion_id__in=ids).values_list(
        "promotion_id", "category_id"
    ):
        categories.setdefault(promotion_id, []).append(category_id)
    children: dict[int | None, list[int]] = {}
    if categories:
        for pk, parent in Category.objects.order_by().values_list("pk", "parent_id"):
            children.setdefault(parent, []).append(pk)
    book = RuleBook()
    for p in promotions:
        rule = Rule(
            pk=p.pk,
            name=p.name,
            kind=p.kind,
            scope=p.scope,
            value=p.value,
            group=p.group_size or 0,
            free=p.free_quantity or 0,
            threshold=p.threshold,
            stackable=p.stackable,
            starts_at=p.starts_at,
            ends_at=p.ends_at,
            limit_per_sale=p.limit_per_sale,
            quantity_left=p.quantity_left,
            product_ids=frozenset(products.get(p.pk, ())) if p.scope == Scope.PRODUCTS else frozenset(),
            category_ids=_descendants(categories.get(p.pk, ()), children)
            if p.scope == Scope.CATEGORIES
            else frozenset(),
        )
        if rule.kind == Kind.BASKET:
            book.basket.append(rule)
        elif rule.scope == Scope.STORE:
            book.store.append(rule)
        else:
            for pk in rule.product_ids:
                book.by_product.setdefault(pk, []).append(rule)
            for pk in rule.category_ids:
                book.by_category.setdefault(pk, []).append(rule)
    return book


_books = GenerationCache("promotions", maxsize=1)


def rules_changed(*, at_once: bool = False) -> None:
    """Make every process reload the rules at its next pricing: when the current transaction commits, or at once
    (a limited promotion found sold out inside a sale that is about to roll back)."""
    _books.changed(at_once=at_once)


def _load() -> tuple[float, RuleBook]:
    return time.monotonic(), load_rule_book()


def rule_book() -> RuleBook:
    """The rules in force, loaded once per process and reloaded after rules_changed() or RELOAD_SECONDS.

    With the shared cache unreachable the rules are read from the database for every pricing (logged once)."""
    loaded_at, book = _books.get("book", _load)
    if time.monotonic() - loaded_at >= RELOAD_SECONDS:
        _books.clear_local()
        loaded_at, book = _books.get("book", _load)
    return book


@dataclass(frozen=True)
class PricingLine:
    """What the engine needs of a line: its product, quantity, and amount before promotions."""

    product: Product
    quantity: Decimal
    amount: Decimal
    label_priced: bool


@dataclass
class Discounts:
    saving: list[Decimal]
    names: list[list[str]]
    notes: list[str]
    basket_notes: list[str] = field(default_factory=list)
    # Promotional units (uses, for basket discounts) per limited promotion: what promotion_claim must take.
    claims: dict[int, Decimal] = field(default_factory=dict)


def _spread(total: Decimal, amounts: Sequence[Decimal]) -> list[Decimal]:
    """Split `total` (no more than the sum of `amounts`) over lines in proportion to their amounts, in whole fen:
    every share is between zero and its line's amount and the shares add up to `total` exactly. Each line gets its
    exact share rounded down; the fen still to give go one each to the lines that lost the most to that rounding
    (largest remainder; ties to the larger amount, then the earlier line)."""
    fen = [int(amount / FEN) for amount in amounts]
    whole, to_give = sum(fen), int(total / FEN)
    if not whole:
        return [ZERO] * len(fen)
    shares = [to_give * f // whole for f in fen]
    # Fewer fen are left than lines with a remainder, and such a line was rounded below its amount: one more fits.
    order = sorted(range(len(fen)), key=lambda i: (-(to_give * fen[i] % whole), -fen[i], i))
    for i in order[: to_give - sum(shares)]:
        shares[i] += 1
    return [share * FEN for share in shares]


def _sold_out(rule: Rule) -> str:
    return _("%(name)s has sold out: regular price.") % {"name": rule.name}


def _limit_note(rule: Rule, remaining: Decimal | None, sale_left: Decimal | None, *, none: bool) -> str:
    """Why a product gets fewer promotional units than it has (`none`: no unit at all) under `rule`: what is left of
    its promotional quantity, or what the products before it left of its limit per sale. Empty when the limit per
    sale alone stands in the way (the till shows no note for that)."""
    if remaining is not None and (sale_left is None or remaining < sale_left):
        if none:
            return _sold_out(rule)
        return _("%(name)s: only %(left)s left at the promotional price.") % {
            "name": rule.name,
            "left": quantity_text(remaining),
        }
    if sale_left is None or sale_left == rule.limit_per_sale:
        return ""
    limit = quantity_text(rule.limit_per_sale)
    if none:
        return _("%(name)s: the limit of %(limit)s per sale is used by other items.") % {
            "name": rule.name,
            "limit": limit,
        }
    return _("%(name)s: limit %(limit)s per sale, only %(left)s more at the promotional price.") % {
        "name": rule.name,
        "limit": limit,
        "left": quantity_text(sale_left),
    }


def discounts(lines: Sequence[PricingLine], *, now: datetime | None = None, book: RuleBook | None = None) -> Discounts:
    """What promotions take off each line, by the precedence in docs/PROMOTIONS.md.

    Line stage, per product in the order of their first lines (its lines pooled, scale-labelled lines left out):
    of the live line promotions covering it, the one giving the lowest amount (ties: the oldest promotion), within
    what the products before it left of its limit per sale and of its promotional quantity (whole units for goods
    sold by the piece). Basket stage: of the basket discounts whose threshold the covered lines reach (lines with a
    line promotion count only for a stackable one), the largest, spread over those lines.
    """
    now = now or timezone.now()
    book = book if book is not None else rule_book()
    result = Discounts(saving=[ZERO] * len(lines), names=[[] for _line in lines], notes=[""] * len(lines), claims={})
    claimed: dict[int, Decimal] = {}  # of the promotional quantity, by limited promotion
    given: dict[int, Decimal] = {}  # promotional units priced in this sale, by line promotion

    def left(rule: Rule) -> Decimal | None:
        return None if rule.quantity_left is None else rule.quantity_left - claimed.get(rule.pk, ZERO)

    def left_in_sale(rule: Rule) -> Decimal | None:
        return None if rule.limit_per_sale is None else rule.limit_per_sale - given.get(rule.pk, ZERO)

    pooled: dict[int, list[int]] = {}
    for i, line in enumerate(lines):
        if not line.label_priced:
            pooled.setdefault(line.product.pk, []).append(i)
    for indexes in pooled.values():
        product = lines[indexes[0]].product
        quantity = sum((lines[i].quantity for i in indexes), ZERO)
        regular = sum((lines[i].amount for i in indexes), ZERO)
        best, blocked = None, ""
        for rule in book.line_rules(product, now):
            remaining, sale_left = left(rule), left_in_sale(rule)
            allowed = min(n for n in (quantity, remaining, sale_left) if n is not None)
            if not product.sold_by_weight:
                allowed = allowed.to_integral_value(ROUND_FLOOR)  # never part of a piece at the promotional price
            if allowed <= 0:
                blocked = blocked or _limit_note(rule, remaining, sale_left, none=True)
                continue
            amount, used = rule.amount(product.selling_price, quantity, allowed, product.sold_by_weight)
            if used and amount < regular and (best is None or (amount, rule.pk) < (best[0], best[2].pk)):
                note = _limit_note(rule, remaining, sale_left, none=False) if allowed < quantity else ""
                best = (amount, used, rule, note)
        if best is None:
            for i in indexes:
                result.notes[i] = blocked
            continue
        amount, used, rule, note = best
        given[rule.pk] = given.get(rule.pk, ZERO) + used
        if rule.quantity_left is not None:
            claimed[rule.pk] = claimed.get(rule.pk, ZERO) + used
        for i, share in zip(indexes, _spread(regular - amount, [lines[i].amount for i in indexes]), strict=True):
            result.saving[i] += share
            result.names[i].append(rule.name)
            result.notes[i] = note
    _basket_stage(lines, result, book, now, claimed, left)
    result.claims = {pk: q for pk, q in claimed.items() if q}
    return result


def _basket_stage(lines, result: Discounts, book: RuleBook, now: datetime, claimed, left) -> None:
    best = None
    for rule in book.basket:
        if not rule.live(now):
            continue
        covered = [
            i for i, line in enumerate(lines) if rule.covers(line.product) and (rule.stackable or not result.names[i])
        ]
        spend = sum((lines[i].amount - result.saving[i] for i in covered), ZERO)
        if spend < rule.threshold:
            continue
        remaining = left(rule)
        if remaining is not None and remaining < ONE:
            result.basket_notes.append(_sold_out(rule))
            continue
        off = min(rule.value, spend)
        if best is None or (-off, rule.pk) < (-best[0], best[2].pk):
            best = (off, covered, rule)
    if best is None:
        return
    off, covered, rule = best
    if rule.quantity_left is not None:
        claimed[rule.pk] = claimed.get(rule.pk, ZERO) + ONE
    weights = [lines[i].amount - result.saving[i] for i in covered]
    for i, share in zip(covered, _spread(off, weights), strict=True):
        result.saving[i] += share
        result.names[i].append(rule.name)


def promotion_claim(*, claims: dict[int, Decimal]) -> None:
    """Take a sale's promotional units from the limited promotions it used; call inside the sale's transaction.

    Locks the promotion rows in primary-key order (the same discipline as stock levels, so concurrent tills
    cannot deadlock), then adds to quantity_sold with F() behind a guard that the limit is not passed. If a
    promotion has less left than the sale was priced with, raises PromotionSoldOut naming it (the caller's
    transaction rolls back, every process reloads the rules, and the sale is priced again at the till).
    """
    from checkout.pricing import PromotionSoldOut  # pricing calls this module's discounts()

    if not claims:
        return
    rows = list(
        Promotion.objects.select_for_update()
        .filter(pk__in=claims, quantity_limit__isnull=False)
        .order_by("pk")
        .values_list("pk", "name", "quantity_limit", "quantity_sold")
    )
    short = [(name, limit - sold) for pk, name, limit, sold in rows if sold + claims[pk] > limit]
    if short:
        rules_changed(at_once=True)
        raise PromotionSoldOut(short)
    exhausted = False
    for pk, _name, limit, sold in rows:
        quantity = claims[pk]
        updated = Promotion.objects.filter(pk=pk, quantity_sold__lte=F("quantity_limit") - quantity).update(
            quantity_sold=F("quantity_sold") + quantity
        )
        if updated != 1:  # cannot happen under the row lock; the guard and the check constraint are the backstop
            raise PromotionSoldOut([(_name, limit - sold)])
        exhausted = exhausted or sold + quantity == limit
    if exhausted:
        transaction.on_commit(rules_changed)
