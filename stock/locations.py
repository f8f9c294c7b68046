"""Locations: the store floor, backrooms, and which one is the default."""

from django.db import transaction

from stock.models import Location


@transaction.atomic
def location_save(*, location: Location) -> Location | None:
    """Save a location. Ticked as the default, it takes over from the old default, which is unticked in the
    same transaction and returned (None when there was none, or it was this one).

    Every location row is locked first (a store has a handful), so that two saves each ticking another location
    take turns, the second unticking the first's: the partial unique index allows one default."""
    previous = None
    if location.is_default:
        list(Location.objects.select_for_update().order_by("pk"))
        # Read again once the locks are held: the locking statement does not see a default another save committed
        # while it waited.
        previous = Location.objects.filter(is_default=True).exclude(pk=location.pk).first()
        if previous is not None:
            previous.is_default = False
            previous.save(update_fields=["is_default"])
    location.save()
    return previous
