from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from catalog.models import Product

ZERO = Decimal("0")


class Location(models.Model):
    class Kind(models.TextChoices):
        FLOOR = "floor", _("store floor")
        BACKROOM = "backroom", _("backroom warehouse")

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.FLOOR)
    is_default = models.BooleanField(_("default for sales"), default=False)

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_location")
        ]

    def __str__(self):
        return self.name

    @classmethod
    def default(cls) -> "Location":
        """Where sales take stock from; created by migration (and again if a test flush removed it)."""
        location, _created = cls.objects.get_or_create(
            is_default=True, defaults={"code": "FLOOR", "name": "卖场 Store floor", "kind": cls.Kind.FLOOR}
        )
        return location


class Lot(models.Model):
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="lots")
    code = models.CharField(_("lot code"), max_length=40)
    expiry_date = models.DateField(_("expiry date"), null=True, blank=True)

    class Meta:
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        constraints = [models.UniqueConstraint(fields=["product", "code"], name="lot_unique_code_per_product")]

    def __str__(self):
        return f"{self.code} ({self.expiry_date})" if self.expiry_date else self.code


class StockLevel(models.Model):
    """On hand of one product at one location (and lot). Written only by stock.services."""

    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="stock_levels"
    )
    location = models.ForeignKey(Location, verbose_name=_("location"), on_delete=models.PROTECT, related_name="levels")
    lot = models.ForeignKey(Lot, verbose_name=_("lot"), null=True, blank=True, on_delete=models.PROTECT)
    on_hand = models.DecimalField(_("on hand"), max_digits=14, decimal_places=3, default=ZERO)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        constraints = [
            models.UniqueConstraint(
                fields=["product", "location"], condition=Q(lot__isnull=True), name="stocklevel_unique_without_lot"
            ),
            models.UniqueConstraint(
                fields=["product", "location", "lot"], condition=Q(lot__isnull=False), name="stocklevel_unique_with_lot"
            ),
        ]

    def __str__(self):
        return f"{self.product} @ {self.location}: {self.on_hand}"


class MovementKind(models.TextChoices):
    SALE = "sale", _("sale")
    RETURN = "return", _("return")
    RECEIPT = "receipt", _("receipt")
    ADJUSTMENT = "adjustment", _("adjustment")
    STOCKTAKE = "stocktake", _("stocktake")
    TRANSFER = "transfer", _("transfer")
    WRITE_OFF = "write_off", _("write-off")


class StockMovement(models.Model):
    """Append-only ledger row. On PostgreSQL and SQLite a trigger refuses UPDATE and DELETE."""

    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="movements")
    location = models.ForeignKey(Location, verbose_name=_("location"), on_delete=models.PROTECT)
    lot = models.ForeignKey(Lot, verbose_name=_("lot"), null=True, blank=True, on_delete=models.PROTECT)
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3)
    kind = models.CharField(_("kind"), max_length=12, choices=MovementKind.choices)
    reference = models.CharField(_("reference"), max_length=60, blank=True)
    document_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT)
    document_id = models.PositiveBigIntegerField(null=True, blank=True)
    document = GenericForeignKey("document_type", "document_id")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    balance_after = models.DecimalField(_("balance after"), max_digits=14, decimal_places=3)

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["product", "location", "id"], name="movement_product_loc"),
            models.Index(fields=["document_type", "document_id"], name="movement_document"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.quantity:+} {self.product_id}@{self.location_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise PermissionError("Stock movements are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Stock movements are append-only and cannot be deleted.")


class ReplenishmentSuggestion(models.Model):
    """Opened by the stock service when on-hand falls below safety stock; at most one open per product and location."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        ORDERED = "ordered", _("ordered")
        DISMISSED = "dismissed", _("dismissed")

    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="suggestions"
    )
    location = models.ForeignKey(Location, verbose_name=_("location"), on_delete=models.CASCADE)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    on_hand_when_raised = models.DecimalField(_("on hand when raised"), max_digits=14, decimal_places=3)
    created_at = models.DateTimeField(_("raised"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    dismissed_reason = models.CharField(_("reason dismissed"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("replenishment suggestion")
        verbose_name_plural = _("replenishment suggestions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "location"], condition=Q(status="open"), name="one_open_suggestion"
            )
        ]

    def __str__(self):
        return f"{self.product} @ {self.location} ({self.get_status_display()})"
