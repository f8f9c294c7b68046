"""Stocktake: count sessions per location, counted by several people at once while sales go on.

When a product is first counted in a session, its line records the ledger
position (the last movement of that product at that location) and the on-hand
it implies. Posting writes the difference counted - expected as an adjustment,
so sales between the count and the posting are neither lost nor shown as
differences.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Max, OuterRef, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Category, Product
from stock.models import CountEntry, CountLine, CountSession, Location, MovementKind, StockLevel, StockMovement
from stock.receiving import read_scanned_code
from stock.selectors import on_hand_subquery
from stock.services import Move, stock_move_batch
from supermarket.money import money

ZERO = Decimal("0")
HUNDRED = Decimal("100")


@transaction.atomic
def count_session_start(
    *,
    location: Location,
    categories=(),
    tolerance_percent: Decimal | None = None,
    note: str = "",
    user=None,
) -> CountSession:
    """Open a count session of a location, for everything or for the given categories and their subcategories.

    An open session of the location with the same scope is returned instead (a double-submitted start, or a
    second counter starting the count already under way). A session whose scope overlaps another open one
    there is refused with ValidationError naming it: both would post the same difference. Counting everything
    overlaps every count; two category counts overlap when one category is the other or inside it.
    Locks the location row (FOR NO KEY UPDATE, so sales referencing it do not wait), so that two starts at one
    location check and insert one after the other.
    """
    if tolerance_percent is not None and tolerance_percent < 0:
        raise ValidationError(_("The tolerance cannot be negative."))
    location = Location.objects.select_for_update(no_key=True).get(pk=location.pk)
    scope = _with_subcategories({category.pk for category in categories})
    open_sessions = [
        (session, _category_ids(session))
        for session in CountSession.objects.filter(location=location, status=CountSession.Status.OPEN).order_by("id")
    ]
    for session, theirs in open_sessions:
        if theirs == scope:
            return session
    for session, theirs in open_sessions:
        if scope is None or theirs is None or scope & theirs:
            raise ValidationError(
                _(
                    "%(session)s is still open and covers some of the same goods: count in it, or post it "
                    "before starting another count here."
                )
                % {"session": session}
            )
    session = CountSession.objects.create(location=location, note=note, started_by=user)
    if tolerance_percent is not None:
        session.tolerance_percent = tolerance_percent
        session.save(update_fields=["tolerance_percent"])
    session.categories.set(categories)
    return session


def _with_subcategories(ids: set[int]) -> set[int] | None:
    """The given category ids and all below them; None (everything) when none are given."""
    if not ids:
        return None
    ids = set(ids)
    frontier = ids
    while frontier:
        frontier = set(Category.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) - ids
        ids |= frontier
    return ids


def _category_ids(session: CountSession) -> set[int] | None:
    """Ids of the session's categories and all below them; None when the session counts everything."""
    return _with_subcategories(set(session.categories.values_list("pk", flat=True)))


def products_in_scope(session: CountSession) -> QuerySet[Product]:
    """Products the session covers."""
    ids = _category_ids(session)
    products = Product.objects.all()
    return products if ids is None else products.filter(category_id__in=ids)


def _locked_open(session: CountSession) -> CountSession:
    session = CountSession.objects.select_for_update().get(pk=session.pk)
    if session.status != CountSession.Status.OPEN:
        raise ValidationError(_("%(session)s is posted and read-only.") % {"session": session})
    return session


def _ledger_position(product: Product, location: Location) -> tuple[Decimal, int]:
    """On-hand and last movement id of a product at a location, read in ONE statement so that a sale
    committing in between cannot make them disagree."""
    last_movement = (
        StockMovement.objects.filter(product=OuterRef("pk"), location=location)
        .order_by()
        .values("product")
        .annotate(last=Max("id"))
        .values("last")
    )
    row = (
        Product.objects.filter(pk=product.pk)
        .annotate(on_hand=on_hand_subquery(location), position=Subquery(last_movement))
        .values("on_hand", "position")
        .get()
    )
    return row["on_hand"], row["position"] or 0


@transaction.atomic
def count_add(*, session: CountSession, code: str, quantity: Decimal | None = None, user=None) -> CountEntry:
    """Count what one scanned code stands for (one unit, the pack quantity of a case barcode, the count on a
    GS1-128 case label or, for goods sold by weight, its net weight), or a typed number of it: 3 with a 24-pack case barcode counts 72, as the transfer
    and write-off forms read it (lots are not counted separately).

    Locks the session row (so a posting cannot slip between the check and the write), takes the
    line's expected quantity from the ledger the first time the product is counted, then adds the
    entry. Raises ValidationError for an unknown code, a product outside the session's categories, or
    a quantity that is not positive or not a quantity of the product (Product.quantity_problem: a
    zero-weight scale label, a fraction of goods sold by the piece).
    """
    session = _locked_open(session)
    product, scanned_quantity, _lot, _expiry = read_scanned_code(code)
    if quantity is not None and quantity.is_finite() and quantity <= 0:
        raise ValidationError(
            _("%(product)s: a counted quantity must be more than zero (use undo to take a count back).")
            % {"product": product.name}
        )
    amount = scanned_quantity if quantity is None else Decimal(quantity) * scanned_quantity
    if problem := product.quantity_problem(amount):
        raise ValidationError(problem)  # whole for goods sold by the piece, grams at most
    scope = _category_ids(session)
    if scope is not None and product.category_id not in scope:
        raise ValidationError(
            _("%(product)s (%(category)s) is not in the categories of this count.")
            % {"product": product.name, "category": product.category}
        )
    line = CountLine.objects.filter(session=session, product=product).first()
    if line is None:
        expected, position = _ledger_position(product, session.location)
        line = CountLine.objects.create(
            session=session,
            product=product,
            expected=expected,
            ledger_position=position,
            unit_cost=product.purchase_price,
        )
    CountLine.objects.filter(pk=line.pk).update(counted=F("counted") + amount)
    return CountEntry.objects.create(line=line, quantity=amount, counted_by=user)


@transaction.atomic
def count_undo(*, session: CountSession, user=None, entry: CountEntry | None = None) -> CountEntry:
    """Take back the user's last entry in the session (or the given one of theirs). A line left with no
    entries is removed, so the product shows as uncounted again."""
    session = _locked_open(session)
    entries = CountEntry.objects.filter(line__session=session, counted_by=user)
    entry = entries.filter(pk=entry.pk).first() if entry is not None else entries.order_by("-id").first()
    if entry is None:
        raise ValidationError(_("Nothing of yours to undo in this count."))
    line = entry.line
    entry.delete()
    if not line.entries.exists():
        line.delete()
    else:
        CountLine.objects.filter(pk=line.pk).update(counted=F("counted") - entry.quantity)
    return entry


@dataclass(frozen=True)
class ReviewRow:
    line: CountLine
    difference: Decimal
    value: Decimal
    accurate: bool


@dataclass(frozen=True)
class Review:
    rows: list[ReviewRow]
    uncounted: QuerySet
    lines_counted: int
    lines_accurate: int
    accuracy_percent: Decimal | None
    difference_value: Decimal
    absolute_difference_value: Decimal


def _accurate(line: CountLine, tolerance_percent: Decimal) -> bool:
    return abs(line.difference) <= abs(line.expected) * tolerance_percent / HUNDRED


def count_review(session: CountSession) -> Review:
    """The review sheet: each counted line with its difference in units and at cost, largest value first;
    products in scope with stock here that nobody counted; accuracy within the session's tolerance."""
    lines = list(session.lines.select_related("product").order_by("product__name"))
    rows = [
        ReviewRow(
            line=line,
            difference=line.difference,
            value=money(line.difference * line.unit_cost),
            accurate=_accurate(line, session.tolerance_percent),
        )
        for line in lines
    ]
    rows.sort(key=lambda row: (-abs(row.value), row.line.product.name))
    stocked = StockLevel.objects.filter(location=session.location).exclude(on_hand=0).values("product")
    uncounted = (
        products_in_scope(session)
        .filter(pk__in=stocked)
        .exclude(pk__in=session.lines.values("product"))
        .annotate(on_hand=on_hand_subquery(session.location))
        .order_by("name")
    )
    accurate = sum(1 for row in rows if row.accurate)
    return Review(
        rows=rows,
        uncounted=uncounted,
        lines_counted=len(rows),
        lines_accurate=accurate,
        accuracy_percent=money(accurate * HUNDRED / len(rows)) if rows else None,
        difference_value=sum((row.value for row in rows), ZERO),
        absolute_difference_value=sum((abs(row.value) for row in rows), ZERO),
    )


@transaction.atomic
def count_post(*, session: CountSession, user=None) -> CountSession:
    """Post a count: one stocktake movement per line whose count differs from its expected quantity.

    Locks the session (a second posting finds it posted and is refused), moves the differences
    through the stock service (an adjustment may take on-hand below zero: the count is the truth;
    shortages of lot-tracked goods come off the earliest-expiring lots, expired ones included), and
    keeps the accuracy figures on the session. Products in scope that were not counted are left as
    they are. The session is read-only afterwards.
    """
    session = _locked_open(session)
    review = count_review(session)
    if not review.rows:
        raise ValidationError(_("%(session)s has no counted lines to post.") % {"session": session})
    stock_move_batch(
        moves=[Move(row.line.product, session.location, row.difference) for row in review.rows if row.difference],
        kind=MovementKind.STOCKTAKE,
        reference=str(session)[:60],
        document=session,
        user=user,
        allow_negative=True,
        allow_expired=True,
    )
    session.status = CountSession.Status.POSTED
    session.posted_at, session.posted_by = timezone.now(), user
    session.lines_counted, session.lines_accurate = review.lines_counted, review.lines_accurate
    session.accuracy_percent = review.accuracy_percent
    session.difference_value = review.difference_value
    session.absolute_difference_value = review.absolute_difference_value
    session.save()
    return session


def count_totals(session: CountSession) -> dict:
    """Counted lines and units so far, for the counting page header."""
    return session.lines.aggregate(lines=Count("id"), units=Sum("counted"))
