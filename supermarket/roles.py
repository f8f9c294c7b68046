"""The store's roles and what each may do: the one place that maps a role to its permissions.

Groups of these names are created by migration (supermarket/migrations/0002_roles.py) and set back
to exactly this mapping after every migrate, so a permission added here reaches every till and
office on the next deploy. A user's role is their group; `user_set_role` also sets staff status,
which is what lets a role into the admin at all (the admin then checks each model permission).
Superusers are for administration (users, groups, the job queues) and belong to no role.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext_lazy as _

CASHIER = "Cashier"
STOCK_CLERK = "Stock clerk"
BUYER = "Buyer"
MANAGER = "Manager"

# Apps whose permissions make up "everything in the store" for a manager.
STORE_APPS = ("catalog", "stock", "checkout", "reports", "supermarket")
# Documents that only services write (the ledger, sales and their money, rollups, override records):
# even a manager gets only their view permission, so the admin never becomes a side door around the services.
SERVICE_WRITTEN = {
    "stock": ("stocklevel", "stockmovement"),
    "checkout": ("sale", "saleline", "payment", "return", "returnline", "refund", "cart", "cartline"),
    "reports": ("salesdaily", "salescategorydaily"),
    "supermarket": ("manageroverride",),
}
# Administration, for superusers only: an API token acts as its user, so whoever hands them out can act as anyone.
ADMINISTRATION = {"checkout": ("apitoken",)}


@dataclass(frozen=True)
class Role:
    name: str
    label: str
    staff: bool  # may open the admin (which then checks model permissions)
    permissions: tuple[str, ...]  # "app_label.codename"; "app_label.*" means every permission of the app


ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role(
            CASHIER,
            _("Cashier"),
            staff=False,
            permissions=("checkout.add_sale", "checkout.add_shift", "catalog.view_product"),
        ),
        Role(
            STOCK_CLERK,
            _("Stock clerk"),
            staff=False,
            permissions=(
                "catalog.view_product",
                "stock.view_location",
                "stock.view_lot",
                "stock.view_stocklevel",
                "stock.view_receipt",
                "stock.add_receipt",
                "stock.change_receipt",
                "stock.add_countsession",
                "stock.view_countsession",
                "stock.change_countsession",
                "stock.add_countentry",
                "stock.delete_countentry",
                "stock.view_transfer",
                "stock.add_transfer",
            ),
        ),
        Role(
            BUYER,
            _("Buyer"),
            staff=True,
            permissions=(
                *(
                    f"catalog.{action}_{model}"
                    for model in ("product", "category", "supplier", "productbarcode")
                    for action in ("view", "add", "change")
                ),
                "catalog.delete_productbarcode",
                "stock.view_location",
                "stock.view_lot",
                "stock.view_stocklevel",
                *(f"stock.{action}_purchaseorder" for action in ("view", "add", "change")),
                "stock.view_replenishmentsuggestion",
                "stock.change_replenishmentsuggestion",
                *(f"checkout.{action}_promotion" for action in ("view", "add", "change", "delete")),
            ),
        ),
        Role(
            MANAGER,
            _("Manager"),
            staff=True,
            # Ringing up sales and approving refunds are the service-written exceptions a manager needs.
            permissions=(*(f"{app}.*" for app in STORE_APPS), "checkout.add_sale", "checkout.add_return"),
        ),
    )
}


def _granted(role: Role, app_label: str, codename: str) -> bool:
    if f"{app_label}.{codename}" in role.permissions:
        return True
    if f"{app_label}.*" not in role.permissions:
        return False
    action, _sep, model = codename.partition("_")
    if model in ADMINISTRATION.get(app_label, ()):
        return False
    # History rows are a record like the ledger: readable, never edited.
    read_only = model in SERVICE_WRITTEN.get(app_label, ()) or model.startswith("historical")
    return not (read_only and action in ("add", "change", "delete"))


def role_permissions(role: Role, permission_model, *, strict: bool = True) -> list:
    """The Permission rows a role grants. Raises LookupError naming a listed permission that does not exist,
    unless not strict (a migration, which runs before later migrations have created every model)."""
    rows = list(permission_model.objects.filter(content_type__app_label__in=STORE_APPS).select_related("content_type"))
    existing = {f"{p.content_type.app_label}.{p.codename}" for p in rows}
    missing = [
        p for p in role.permissions if not p.endswith(".*") and p not in existing and p.split(".")[0] in STORE_APPS
    ]
    if missing and strict:
        raise LookupError(f"Role {role.name} lists permissions that do not exist: {', '.join(missing)}")
    return [p for p in rows if _granted(role, p.content_type.app_label, p.codename)]


def sync_groups(group_model, permission_model, *, strict: bool = True) -> None:
    """Create the role groups and set each one's permissions to exactly what ROLES says."""
    for role in ROLES.values():
        group, _created = group_model.objects.get_or_create(name=role.name)
        group.permissions.set(role_permissions(role, permission_model, strict=strict))


def sync_after_migrate(sender, using="default", **kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    with transaction.atomic(using=using):
        sync_groups(Group, Permission)


@transaction.atomic
def user_set_role(*, user, role: str | None) -> None:
    """Give a user exactly one role (or none): their group, and staff status as the role says."""
    from django.contrib.auth.models import Group

    if role is not None and role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; roles are: {', '.join(ROLES)}")
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    user.is_staff = bool(role and ROLES[role].staff)
    user.save(update_fields=["is_staff"])
