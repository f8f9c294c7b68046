"""On-hand per location of scanned products, kept in each web worker: the JSON API answers a scan without a query.

The stock service is the only writer of on-hand (DESIGN.md invariant 1); every batch it writes forgets its products'
entries in every worker when it commits (`supermarket.localcache.GenerationCache.forget`), so a scan after a sale
shows the sale. A location renamed or added empties the whole cache.
"""

from django.conf import settings

from stock.selectors import LocationOnHand, on_hand_by_location
from supermarket.localcache import GenerationCache

on_hand = GenerationCache("on-hand", maxsize=settings.SCAN_CACHE_SIZE)


def on_hand_by_location_cached(product_id: int) -> list[LocationOnHand]:
    return on_hand.get(str(product_id), lambda: on_hand_by_location(product_id))


def on_hand_changed(product_ids) -> None:
    """Forget these products' on-hand in every worker once the current transaction commits."""
    on_hand.forget(str(pk) for pk in product_ids)


def locations_changed(sender=None, **kwargs) -> None:
    """Receiver for Location saves and deletes (connected in StockConfig.ready)."""
    on_hand.changed()
