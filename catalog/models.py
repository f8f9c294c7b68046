from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from catalog import gtin
from supermarket.money import quantity

ZERO = Decimal("0")


def validate_code(value: str) -> None:
    try:
        gtin.normalize(value)
    except gtin.InvalidCode as exc:
        raise ValidationError(str(exc), code="invalid_code") from None


class Category(models.Model):
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["parent", "name"], name="category_unique_name_in_parent")]

    def __str__(self):
        return f"{self.parent} / {self.name}" if self.parent_id else self.name

    def clean(self):
        node, seen = self.parent, set()
        while node is not None:
            if node.pk == self.pk or node.pk in seen:
                raise ValidationError({"parent": _("A category cannot be its own ancestor.")})
            seen.add(node.pk)
            node = node.parent


class Supplier(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    contact = models.CharField(_("contact person"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    lead_time_days = models.PositiveSmallIntegerField(_("lead time (days)"), default=2)
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Unit(models.TextChoices):
    EACH = "each", _("each")
    KG = "kg", _("kg")


QUANTITY_LIMIT = Decimal(10**9)  # a quantity sold or moved at once stays below this


class Product(models.Model):
    barcode = models.CharField(_("barcode"), max_length=14, unique=True, validators=[validate_code])
    store_code = models.CharField(
        _("store code"),
        max_length=13,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Short in-store code (PLU) typed at the till and used by scale labels."),
    )
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="products"
    )
    supplier = models.ForeignKey(
        Supplier, verbose_name=_("supplier"), null=True, blank=True, on_delete=models.PROTECT, related_name="products"
    )
    purchase_price = models.DecimalField(
        _("purchase price"), max_digits=12, decimal_places=4, validators=[MinValueValidator(ZERO)]
    )
    selling_price = models.DecimalField(
        _("selling price"), max_digits=10, decimal_places=2, validators=[MinValueValidator(ZERO)]
    )
    tax_rate = models.DecimalField(
        _("tax rate (%)"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("13.00"),
        validators=[MinValueValidator(ZERO)],
    )
    unit = models.CharField(_("unit"), max_length=8, choices=Unit.choices, default=Unit.EACH)
    safety_stock = models.DecimalField(
        _("safety stock"), max_digits=12, decimal_places=3, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    lot_tracked = models.BooleanField(_("lot tracked"), default=False, help_text=_("Perishable: lots with expiry."))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(selling_price__gte=0), name="product_selling_price_not_negative"),
            models.CheckConstraint(
                condition=models.Q(purchase_price__gte=0), name="product_purchase_price_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.barcode})"

    @property
    def sold_by_weight(self) -> bool:
        return self.unit == Unit.KG

    def quantity_problem(self, value: Decimal) -> str | None:
        """Why `value` cannot be a quantity of this product sold or moved, or None: a positive number below a
        billion (what a basket's line holds), whole for goods sold by the piece, and to the gram at most (the three
        decimals every quantity column keeps)."""
        if not value.is_finite():
            return str(_("Quantity must be a number."))
        if value <= 0:
            return str(_("Quantity must be more than zero."))
        if value >= QUANTITY_LIMIT:  # a second barcode pasted as the quantity, say
            return _("Quantity is too large: at most %(limit)s.") % {"limit": QUANTITY_LIMIT - 1}
        if not self.sold_by_weight and value != value.to_integral_value():
            return _("%(product)s is sold by the piece: the quantity must be a whole number.") % {"product": self.name}
        if value != quantity(value):
            return str(_("Quantity has more than three decimals."))
        return None

    def clean(self):
        if self.barcode:
            try:
                self.barcode = gtin.normalize(self.barcode)
            except gtin.InvalidCode:
                pass  # reported by the field validator
            else:
                clash = ProductBarcode.objects.filter(barcode=self.barcode)
                if clash.exists():
                    raise ValidationError(
                        {
                            "barcode": _("Barcode %(code)s is already an extra barcode of %(product)s.")
                            % {"code": self.barcode, "product": clash.first().product}
                        }
                    )
        if self.store_code:
            self.store_code = self.store_code.strip().upper()
        elif self.store_code == "":
            self.store_code = None


class ProductBarcode(models.Model):
    """An extra barcode: new packaging, or a multipack that counts as pack_quantity units."""

    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="barcodes")
    barcode = models.CharField(_("barcode"), max_length=14, unique=True, validators=[validate_code])
    pack_quantity = models.PositiveIntegerField(_("pack quantity"), default=1, validators=[MinValueValidator(1)])
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("extra barcode")
        verbose_name_plural = _("extra barcodes")

    def __str__(self):
        return f"{self.barcode} × {self.pack_quantity}"

    def clean(self):
        if self.barcode:
            try:
                self.barcode = gtin.normalize(self.barcode)
            except gtin.InvalidCode:
                return
            if Product.objects.filter(barcode=self.barcode).exists():
                raise ValidationError(
                    {
                        "barcode": _("Barcode %(code)s is already the main barcode of a product.")
                        % {"code": self.barcode}
                    }
                )
