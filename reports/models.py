from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from catalog.models import Product
from stock.models import Location

ZERO = Decimal("0")


class SalesDaily(models.Model):
    """Daily rollup of net sales per product and location: what reports read instead of raw sale lines."""

    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(Location, verbose_name=_("location"), on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day"))
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3, default=ZERO)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=ZERO)
    cost = models.DecimalField(_("cost"), max_digits=16, decimal_places=4, default=ZERO)

    class Meta:
        verbose_name = _("daily sales")
        verbose_name_plural = _("daily sales")
        constraints = [
            models.UniqueConstraint(
                fields=["product", "location", "day"], name="salesdaily_unique_product_location_day"
            )
        ]
        indexes = [models.Index(fields=["day", "location"], name="salesdaily_day_location")]

    def __str__(self):
        return f"{self.day} {self.product_id}@{self.location_id}: {self.quantity}"
