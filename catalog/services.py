"""Writes to the catalog. Every interface (admin, import, seed, API) goes through here."""

from django.db import transaction

from catalog.cache import catalog_changed
from catalog.models import Category, Product, ProductBarcode, Supplier


def _save_validated(obj, *, user=None):
    """full_clean (field-level errors as ValidationError.message_dict), then save with history user."""
    obj.full_clean()
    if user is not None:
        obj._history_user = user
    obj.save()
    catalog_changed()  # the till must never scan a stale price
    return obj


@transaction.atomic
def category_create(*, name: str, name_en: str = "", parent: Category | None = None, user=None) -> Category:
    """Create a category; raises ValidationError on a duplicate name under the same parent."""
    return _save_validated(Category(name=name, name_en=name_en, parent=parent), user=user)


@transaction.atomic
def supplier_create(*, name: str, user=None, **fields) -> Supplier:
    """Create a supplier; raises ValidationError naming the bad field."""
    return _save_validated(Supplier(name=name, **fields), user=user)


@transaction.atomic
def product_create(*, user=None, extra_barcodes: list[tuple[str, int]] = (), **fields) -> Product:
    """Create a product and its extra barcodes (code, pack quantity) in one transaction.

    Raises ValidationError with field-level messages (bad barcode, negative or
    malformed price, unknown category...) and writes nothing in that case.
    """
    product = _save_validated(Product(**fields), user=user)
    for code, pack_quantity in extra_barcodes:
        _save_validated(ProductBarcode(product=product, barcode=code, pack_quantity=pack_quantity), user=user)
    return product


@transaction.atomic
def product_update(*, product: Product, user=None, **fields) -> Product:
    """Change fields of a product; the change (a price, say) is recorded in its history with the user.
    FOR NO KEY UPDATE: two changes of one product take turns, and a sale's check of its rows' reference to the
    product (at commit, with its stock rows still locked) does not wait for it."""
    locked = Product.objects.select_for_update(no_key=True).get(pk=product.pk)
    for name, value in fields.items():
        setattr(locked, name, value)
    return _save_validated(locked, user=user)
