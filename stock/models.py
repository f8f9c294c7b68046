from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import Case, Q, When
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

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
        """Where sales take stock from; created by migration. Should no location be marked (rows written by a data
        import or a shell), the FLOOR location, else the first store-floor location, becomes the default; with
        neither (a test flush removed them) FLOOR is created."""
        location = cls.objects.filter(is_default=True).first()
        if location is not None:
            return location
        location = cls.objects.filter(Q(code="FLOOR") | Q(kind=cls.Kind.FLOOR)).order_by(
            Case(When(code="FLOOR", then=0), default=1), "pk"
        ).first() or cls(code="FLOOR", name="卖场 Store floor", kind=cls.Kind.FLOOR)
        location.is_default = True
        try:
            with transaction.atomic():
                location.save()
        except IntegrityError:  # another process marked or created the default first
            return cls.objects.get(is_default=True)
        return location


class Lot(models.Model):
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="lots")
    code = models.CharField(_("lot code"), max_length=40)
    expiry_date = models.DateField(_("expiry date"), null=True, blank=True)
    # The expiry date decides whether selling the lot needs a manager's approval: its changes are kept, with who.
    history = HistoricalRecords()

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
            # The admin's search by the start of a reference (GR000042, a sale's number): the pattern operator class
            # serves LIKE 'GR000042%' under any collation, and equality.
            models.Index(fields=["reference"], name="movement_reference", opclasses=["varchar_pattern_ops"]),
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
    purchase_order = models.ForeignKey(
        "stock.PurchaseOrder",
        verbose_name=_("ordered on"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="suggestions",
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

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


# Back-store documents -------------------------------------------------------
# Each document below changes stock only through stock.services.stock_move_batch,
# which writes the ledger rows pointing back at the document.

QUANTITY = {"max_digits": 14, "decimal_places": 3}
COST = {"max_digits": 12, "decimal_places": 4}


class PurchaseOrder(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SENT = "sent", _("sent")
        PARTIAL = "partial", _("partially received")
        RECEIVED = "received", _("received")
        CANCELLED = "cancelled", _("cancelled")

    supplier = models.ForeignKey(
        "catalog.Supplier", verbose_name=_("supplier"), on_delete=models.PROTECT, related_name="purchase_orders"
    )
    location = models.ForeignKey(
        Location, verbose_name=_("deliver to"), on_delete=models.PROTECT, related_name="purchase_orders"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    expected_date = models.DateField(_("expected date"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    OPEN = (Status.DRAFT, Status.SENT, Status.PARTIAL)
    RECEIVABLE = (Status.SENT, Status.PARTIAL)

    class Meta:
        verbose_name = _("purchase order")
        verbose_name_plural = _("purchase orders")
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "supplier"], name="po_status_supplier")]

    def __str__(self):
        return self.number

    @property
    def number(self) -> str:
        return f"PO{self.pk:06d}" if self.pk else "PO-new"


class PurchaseOrderLine(models.Model):
    order = models.ForeignKey(
        PurchaseOrder, verbose_name=_("purchase order"), on_delete=models.CASCADE, related_name="lines"
    )
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(_("ordered"), **QUANTITY)
    unit_cost = models.DecimalField(_("unit cost"), **COST)
    received_quantity = models.DecimalField(_("received"), default=ZERO, **QUANTITY)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "product"], name="po_line_unique_product"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="po_line_quantity_not_negative"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="po_line_cost_not_negative"),
            models.CheckConstraint(condition=Q(received_quantity__gte=0), name="po_line_received_not_negative"),
        ]

    def __str__(self):
        return f"{self.product} × {self.quantity}"

    @property
    def outstanding(self) -> Decimal:
        return max(self.quantity - self.received_quantity, ZERO)


class Receipt(models.Model):
    """Goods received at a location: against a purchase order, or a direct delivery with a reason.

    A draft collects scans (several may be edited before posting); posting moves the stock.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        POSTED = "posted", _("posted")

    order = models.ForeignKey(
        PurchaseOrder,
        verbose_name=_("purchase order"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="receipts",
    )
    supplier = models.ForeignKey(
        "catalog.Supplier",
        verbose_name=_("supplier"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    location = models.ForeignKey(Location, verbose_name=_("location"), on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason (without an order)"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("received by"), null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    posted_at = models.DateTimeField(_("posted"), null=True, blank=True)
    # The direct-delivery form's one-time token: the form sent twice starts one draft.
    token = models.UUIDField(_("form token"), null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("goods receipt")
        verbose_name_plural = _("goods receipts")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(order__isnull=False) | ~Q(reason=""), name="receipt_order_or_reason")
        ]

    def __str__(self):
        return f"GR{self.pk:06d}" if self.pk else "GR-new"


class ReceiptLine(models.Model):
    receipt = models.ForeignKey(Receipt, verbose_name=_("receipt"), on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    lot_code = models.CharField(_("lot code"), max_length=40, blank=True)
    expiry_date = models.DateField(_("expiry date"), null=True, blank=True)
    quantity = models.DecimalField(_("quantity"), default=ZERO, **QUANTITY)
    unit_cost = models.DecimalField(_("unit cost"), **COST)
    lot = models.ForeignKey(Lot, verbose_name=_("lot"), null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        verbose_name = _("receipt line")
        verbose_name_plural = _("receipt lines")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["receipt", "product", "lot_code"], name="receipt_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="receipt_line_quantity_not_negative"),
        ]

    def __str__(self):
        return f"{self.product} × {self.quantity}"


class CountSession(models.Model):
    """A stocktake of one location, of everything or of chosen categories (and their subcategories)."""

    class Status(models.TextChoices):
        OPEN = "open", _("counting")
        POSTED = "posted", _("posted")

    location = models.ForeignKey(Location, verbose_name=_("location"), on_delete=models.PROTECT, related_name="+")
    categories = models.ManyToManyField(
        "catalog.Category", verbose_name=_("categories"), blank=True, help_text=_("Empty: count everything.")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    tolerance_percent = models.DecimalField(
        _("tolerance (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("2.00"),
        help_text=_("A line counts as accurate when its difference is within this share of the expected quantity."),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("posted by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    posted_at = models.DateTimeField(_("posted"), null=True, blank=True)
    # Kept at posting for reports: share of counted lines within tolerance, and the value of differences.
    lines_counted = models.PositiveIntegerField(_("lines counted"), default=0)
    lines_accurate = models.PositiveIntegerField(_("lines within tolerance"), default=0)
    accuracy_percent = models.DecimalField(_("accuracy (%)"), max_digits=5, decimal_places=2, null=True, blank=True)
    difference_value = models.DecimalField(_("net difference at cost"), max_digits=14, decimal_places=2, default=ZERO)
    absolute_difference_value = models.DecimalField(
        _("absolute difference at cost"), max_digits=14, decimal_places=2, default=ZERO
    )

    class Meta:
        verbose_name = _("count session")
        verbose_name_plural = _("count sessions")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(tolerance_percent__gte=0), name="count_tolerance_not_negative")
        ]

    def __str__(self):
        return f"ST{self.pk:06d} {self.location}" if self.pk else "ST-new"


class CountLine(models.Model):
    """What was counted of one product in a session, and what the ledger said at that moment."""

    session = models.ForeignKey(CountSession, verbose_name=_("session"), on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    counted = models.DecimalField(_("counted"), default=ZERO, **QUANTITY)
    expected = models.DecimalField(_("expected"), **QUANTITY)
    ledger_position = models.PositiveBigIntegerField(
        _("ledger position"), default=0, help_text=_("Last stock movement of the product here when first counted.")
    )
    unit_cost = models.DecimalField(_("unit cost"), **COST)
    first_counted_at = models.DateTimeField(_("first counted"), auto_now_add=True)

    class Meta:
        verbose_name = _("count line")
        verbose_name_plural = _("count lines")
        constraints = [
            models.UniqueConstraint(fields=["session", "product"], name="count_line_unique_product"),
            models.CheckConstraint(condition=Q(counted__gte=0), name="count_line_counted_not_negative"),
        ]

    def __str__(self):
        return f"{self.product}: {self.counted} / {self.expected}"

    @property
    def difference(self) -> Decimal:
        return self.counted - self.expected


class CountEntry(models.Model):
    """One scan or typed quantity by one counter; the undo list of the counting page."""

    line = models.ForeignKey(CountLine, verbose_name=_("line"), on_delete=models.CASCADE, related_name="entries")
    quantity = models.DecimalField(_("quantity"), **QUANTITY)
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("counted by"), null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("count entry")
        verbose_name_plural = _("count entries")
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="count_entry_quantity_positive")]

    def __str__(self):
        return f"{self.quantity} ({self.counted_by})"


class Transfer(models.Model):
    """Goods moved between two locations (backroom to shelf): one document, both movements in one transaction."""

    source = models.ForeignKey(Location, verbose_name=_("from"), on_delete=models.PROTECT, related_name="+")
    destination = models.ForeignKey(Location, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+")
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    # The form's one-time token: a double-submitted form finds its document posted and moves nothing more.
    token = models.UUIDField(_("form token"), null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(source=models.F("destination")), name="transfer_two_locations")
        ]

    def __str__(self):
        return f"TR{self.pk:06d}" if self.pk else "TR-new"


class TransferLine(models.Model):
    transfer = models.ForeignKey(Transfer, verbose_name=_("transfer"), on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(_("quantity"), **QUANTITY)

    class Meta:
        verbose_name = _("transfer line")
        verbose_name_plural = _("transfer lines")
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_line_quantity_positive")]

    def __str__(self):
        return f"{self.product} × {self.quantity}"


class WriteOff(models.Model):
    """Damaged, expired or lost goods taken off stock with a reason code."""

    class Reason(models.TextChoices):
        DAMAGED = "damaged", _("damaged")
        EXPIRED = "expired", _("expired")
        SPOILED = "spoiled", _("spoiled")
        THEFT = "theft", _("theft or loss")
        OTHER = "other", _("other")

    location = models.ForeignKey(Location, verbose_name=_("location"), on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    # The form's one-time token: a double-submitted form finds its document posted and moves nothing more.
    token = models.UUIDField(_("form token"), null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("write-off")
        verbose_name_plural = _("write-offs")
        ordering = ["-id"]

    def __str__(self):
        return f"WO{self.pk:06d}" if self.pk else "WO-new"


class WriteOffLine(models.Model):
    write_off = models.ForeignKey(WriteOff, verbose_name=_("write-off"), on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, verbose_name=_("lot"), null=True, blank=True, on_delete=models.PROTECT)
    quantity = models.DecimalField(_("quantity"), **QUANTITY)
    unit_cost = models.DecimalField(_("unit cost"), **COST)

    class Meta:
        verbose_name = _("write-off line")
        verbose_name_plural = _("write-off lines")
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="write_off_line_quantity_positive")]

    def __str__(self):
        return f"{self.product} × {self.quantity}"
