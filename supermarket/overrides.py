"""Manager overrides: the record of each approval given at a till, and who may give which."""

from decimal import Decimal

from django.utils.translation import gettext as _

from checkout.pricing import CheckoutError
from supermarket.models import ManagerOverride, OverrideKind

# The permission an approver needs for each kind of override (see supermarket.roles: managers hold all of them).
APPROVAL_PERMISSION = {
    OverrideKind.VOID_SALE: "supermarket.approve_void_sale",
    OverrideKind.REFUND: "checkout.add_return",
    OverrideKind.PRICE: "supermarket.approve_price",
    OverrideKind.STOCK_LIMIT: "supermarket.approve_stock_limit",
    OverrideKind.EXPIRED: "checkout.override_expired",
}


class OverrideRefused(CheckoutError):
    """The approver may not approve this kind of override."""


def override_check(*, kind: str, approved_by) -> None:
    """Raise OverrideRefused (field "manager") unless approved_by holds the kind's permission."""
    if approved_by is None or not approved_by.has_perm(APPROVAL_PERMISSION[kind]):
        label = OverrideKind(kind).label
        raise OverrideRefused(_("A manager must approve this: %(what)s.") % {"what": label}, field="manager")


def override_record(
    *,
    kind: str,
    requested_by,
    approved_by,
    register: str = "",
    reference: str = "",
    detail: str = "",
    amount: Decimal | None = None,
    product=None,
    token=None,
) -> ManagerOverride:
    """Check the approver's permission (OverrideRefused) and write the record, in the caller's transaction
    so that the record exists exactly when the approved change does."""
    override_check(kind=kind, approved_by=approved_by)
    return ManagerOverride.objects.create(
        kind=kind,
        requested_by=requested_by,
        approved_by=approved_by,
        register=register,
        reference=reference,
        detail=detail[:300],
        amount=amount,
        product=product,
        token=token,
    )


def override_seen(token) -> bool:
    """Whether an approval sent with this one-time token was recorded already."""
    return ManagerOverride.objects.filter(token=token).exists()


def stock_limit_approved(reference: str) -> frozenset[int]:
    """The products a manager let this cart (by its token) sell past the stock on hand."""
    rows = ManagerOverride.objects.filter(kind=OverrideKind.STOCK_LIMIT, reference=reference, product__isnull=False)
    return frozenset(rows.values_list("product_id", flat=True))


def overrides_recent(*, kind: str | None = None, limit: int = 500) -> list[ManagerOverride]:
    """The latest overrides (newest first), each with `sale_number`: its reference, or for an approval given on
    a cart the number of the sale the cart became (one query for all)."""
    from checkout.models import Sale

    rows = ManagerOverride.objects.select_related("requested_by", "approved_by")
    if kind:
        rows = rows.filter(kind=kind)
    rows = list(rows[:limit])
    tokens = {row.reference for row in rows if len(row.reference) == 36}
    numbers = dict(
        (str(token), number)
        for token, number in Sale.objects.filter(client_token__in=tokens).values_list("client_token", "number")
    )
    for row in rows:
        row.sale_number = numbers.get(row.reference, "" if row.reference in tokens else row.reference)
    return rows
