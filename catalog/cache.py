"""The scan path's product cache: product_lookup results kept in each web worker, and products by id for the
till's basket.

Any change to a product, an extra barcode or a category (admin, services,
imports, price rules) calls `catalog_changed()`, which drops every worker's
entries when the change commits; a scan right after a price change therefore
reads the new price, whatever the cache lifetime. One generation for the whole
catalog rather than one per product: a product's codes before and after a change
(barcode edits, extra barcodes) need not be known to invalidate it, and a fill
that raced with the change is discarded with its generation. Catalog changes are
rare next to scans (a whole import is one invalidation).
"""

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from catalog.models import Category, Product, ProductBarcode
from catalog.selectors import InactiveProduct, Scan, product_lookup
from supermarket.localcache import GenerationCache

products = GenerationCache("catalog", maxsize=settings.SCAN_CACHE_SIZE)


def product_lookup_cached(code: str, *, include_inactive: bool = False) -> Scan:
    """product_lookup served from the worker's cache; raises what product_lookup raises.

    Unknown and malformed codes are not cached: they go to the database each time.
    """
    scan = products.get(code, lambda: product_lookup(code, include_inactive=True))
    if not scan.product.active and not include_inactive:
        raise InactiveProduct(scan.product)
    return scan


def products_by_id(ids) -> dict[int, Product]:
    """Products (with their category) by id, served from the worker's cache like product_lookup_cached: the till's
    basket prices its lines with these at every scan. Missing ids are left out."""
    found = products.get_many([("id", pk) for pk in ids], _load_by_id)
    return {key[1]: product for key, product in found.items()}


def _load_by_id(keys: list[tuple[str, int]]) -> dict[tuple[str, int], Product]:
    loaded = Product.objects.select_related("category").in_bulk([pk for _kind, pk in keys])
    return {("id", pk): product for pk, product in loaded.items()}


def catalog_changed() -> None:
    """Invalidate cached lookups in every worker once the current transaction commits."""
    products.changed()


@receiver(post_save, sender=Product)
@receiver(post_delete, sender=Product)
@receiver(post_save, sender=ProductBarcode)
@receiver(post_delete, sender=ProductBarcode)
@receiver(post_save, sender=Category)
@receiver(post_delete, sender=Category)
def _catalog_row_changed(sender, **kwargs) -> None:
    # Saves through the admin, forms or tests that bypass the services; bulk writes call catalog_changed() themselves.
    catalog_changed()
