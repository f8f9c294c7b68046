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
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="category_unique_name_in_parent"),
            # The constraint above lets top-level categories (parent NULL) repeat a name, since NULL is never equal
            # to NULL; two "饮料" at the top would leave an import no path that names one of them.
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(parent__isnull=True),
                name="category_unique_top_level_name",
                violation_error_message=_(
                    "There is already a top-level category with this name: choose another name or a parent."
                ),
            ),
        ]

    # The full path, set on the categories of a whole list at once by catalog.selectors.category_paths_attach (one
    # query, whatever the depth). Without it str() walks up the parents, a query per level.
    known_path: str | None = None

    def __str__(self):
        if self.known_path is not None:
            return self.known_path
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


_CODE_FIELDS = ("barcode", "store_code")


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

    @classmethod
    def from_db(cls, db, field_names, values, **kwargs):
        product = super().from_db(db, field_names, values, **kwargs)
        # The codes as stored: clean() looks for clashes only when one changes, not at every cost a receipt writes.
        product._stored_codes = {
            name: value for name, value in zip(field_names, values, strict=True) if name in _CODE_FIELDS
        }
        return product

    def clean(self):
        # Barcodes, extra barcodes and store codes are one namespace: the till looks a typed or scanned code up in
        # all of them, so a code shared by two products would sell whichever the lookup finds first.
        errors = {}
        stored = getattr(self, "_stored_codes", {})
        if self.barcode:
            try:
                self.barcode = gtin.normalize(self.barcode)
            except gtin.InvalidCode:
                pass  # reported by the field validator
            else:
                if self.barcode != stored.get("barcode"):
                    errors["barcode"] = code_clash(self.barcode, product=self, with_barcodes=False)
        self.store_code = (self.store_code or "").strip().upper() or None
        if self.store_code and self.store_code != stored.get("store_code"):
            errors["store_code"] = code_clash(self.store_code, product=self, with_store_codes=False)
        errors = {field: message for field, message in errors.items() if message}
        if errors:
            raise ValidationError(errors)


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
            # The product as its form stands, not as stored: a barcode or store code changed in the same save counts.
            product = self.product if self.product_id or ProductBarcode.product.is_cached(self) else None
            if product is not None and self.barcode == product.barcode:
                message = _("Code %(code)s is already this product's main barcode.") % {"code": self.barcode}
            elif product is not None and self.barcode == product.store_code:
                message = _("Code %(code)s is already this product's store code.") % {"code": self.barcode}
            else:
                # Repeats among extra barcodes are left to the unique field.
                message = code_clash(self.barcode, product=product, with_extra_barcodes=False)
            if message:
                raise ValidationError({"barcode": message})


def code_clash(
    code: str,
    *,
    product: Product | None = None,
    with_barcodes: bool = True,
    with_extra_barcodes: bool = True,
    with_store_codes: bool = True,
) -> str | None:
    """Why `code` cannot be one of `product`'s codes: another product already carries it as its main barcode, an
    extra barcode or its store code. None when the code is free.

    `product` is left out of the main barcode and store code checks (None: a product not chosen yet). A repeat
    within one kind of code is the unique field's to report, so the caller turns that kind off."""
    others = Product.objects.exclude(pk=product.pk) if product is not None and product.pk else Product.objects
    if with_barcodes:
        owner = others.filter(barcode=code).first()
        if owner is not None:
            return _("Code %(code)s is already the barcode of %(product)s.") % {"code": code, "product": owner}
    if with_extra_barcodes:
        extra = ProductBarcode.objects.select_related("product").filter(barcode=code).first()
        if extra is not None:
            return _("Code %(code)s is already an extra barcode of %(product)s.") % {
                "code": code,
                "product": extra.product,
            }
    if with_store_codes:
        owner = others.filter(store_code=code).first()
        if owner is not None:
            return _("Code %(code)s is already the store code of %(product)s.") % {"code": code, "product": owner}
    return None
