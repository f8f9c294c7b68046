import secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from catalog.models import Product
from stock.models import Location
from supermarket.money import quantity_text

ZERO = Decimal("0")
ONLINE_REGISTER_CODE = "WEB"


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("cash")
    CARD = "card", _("bank card")
    WECHAT = "wechat", _("WeChat Pay")
    ALIPAY = "alipay", _("Alipay")


class Register(models.Model):
    """A till. The built-in online register (code WEB) has no cash drawer and needs no shift."""

    code = models.CharField(_("code"), max_length=10, unique=True)
    name = models.CharField(_("name"), max_length=100)
    location = models.ForeignKey(
        Location, verbose_name=_("stock location"), on_delete=models.PROTECT, related_name="registers"
    )
    online = models.BooleanField(_("online (no cash drawer, no shift)"), default=False)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("register")
        verbose_name_plural = _("registers")
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"

    @classmethod
    def online_register(cls) -> "Register":
        """Where API sales without a register go; created by migration (and again if a test flush removed it)."""
        # One query on every API sale: the register with its location (the sale reads it), created only when missing.
        register = cls.objects.select_related("location").filter(code=ONLINE_REGISTER_CODE).first()
        if register is None:
            register, _created = cls.objects.get_or_create(
                code=ONLINE_REGISTER_CODE,
                defaults={"name": "线上 Online", "location": Location.default(), "online": True},
            )
        return register


class Shift(models.Model):
    register = models.ForeignKey(Register, verbose_name=_("register"), on_delete=models.PROTECT, related_name="shifts")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("opened by"), on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    opening_float = models.DecimalField(_("cash float"), max_digits=12, decimal_places=2)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    expected_cash = models.DecimalField(_("expected cash"), max_digits=12, decimal_places=2, null=True, blank=True)
    counted_cash = models.DecimalField(_("counted cash"), max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("shift")
        verbose_name_plural = _("shifts")
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["register"], condition=Q(closed_at__isnull=True), name="one_open_shift"),
            models.CheckConstraint(condition=Q(opening_float__gte=0), name="shift_float_not_negative"),
        ]

    def __str__(self):
        return f"{self.register.code} {self.opened_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def difference(self) -> Decimal | None:
        if self.counted_cash is None or self.expected_cash is None:
            return None
        return self.counted_cash - self.expected_cash


class Sale(models.Model):
    # Null only between the insert and the number being set in the same transaction.
    number = models.CharField(_("sale number"), max_length=40, unique=True, null=True)
    client_token = models.UUIDField(_("client token"), unique=True)
    register = models.ForeignKey(Register, verbose_name=_("register"), on_delete=models.PROTECT, related_name="sales")
    shift = models.ForeignKey(
        Shift, verbose_name=_("shift"), null=True, blank=True, on_delete=models.PROTECT, related_name="sales"
    )
    location = models.ForeignKey(Location, verbose_name=_("stock location"), on_delete=models.PROTECT)
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("cashier"), on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Manager who allowed expired stock to be sold."),
    )
    # Set when the object is made, not at the insert: the sale number, written in the same insert, carries its date.
    created_at = models.DateTimeField(_("time"), default=timezone.now, editable=False, db_index=True)
    # Digest of what the completing request asked for; a retry with the same client token must match it.
    request_hash = models.CharField(_("request digest"), max_length=64, blank=True, default="", editable=False)
    item_count = models.DecimalField(_("items"), max_digits=12, decimal_places=3)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    tax = models.DecimalField(_("tax"), max_digits=12, decimal_places=2)
    paid = models.DecimalField(_("paid"), max_digits=12, decimal_places=2)
    change = models.DecimalField(_("change"), max_digits=12, decimal_places=2, default=ZERO)

    class Meta:
        verbose_name = _("sale")
        verbose_name_plural = _("sales")
        ordering = ["-created_at"]
        permissions = [("override_expired", _("Can allow expired stock to be sold"))]

    def __str__(self):
        return self.number or str(self.client_token)

    @property
    def saving(self) -> Decimal:
        """What promotions saved on this sale (from the lines, prefetched by the receipt)."""
        return sum((line.saving for line in self.lines.all()), ZERO)


class SaleLine(models.Model):
    sale = models.ForeignKey(Sale, verbose_name=_("sale"), on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField(_("position"))
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("code scanned"), max_length=20, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(_("unit price"), max_digits=10, decimal_places=2)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    tax = models.DecimalField(_("tax"), max_digits=12, decimal_places=2)
    cost = models.DecimalField(_("cost"), max_digits=14, decimal_places=4)
    # What promotions took off the regular amount (quantity × unit_price), and their names as they were at the sale.
    saving = models.DecimalField(_("saving"), max_digits=12, decimal_places=2, default=ZERO)
    promotion = models.CharField(_("promotion"), max_length=210, blank=True)

    class Meta:
        verbose_name = _("sale line")
        verbose_name_plural = _("sale lines")
        ordering = ["sale", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sale", "position"], name="saleline_unique_position"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="saleline_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.product.name} × {quantity_text(self.quantity)}"


class Payment(models.Model):
    """Money taken for a sale. A cash amount is what was tendered; the sale's change goes back out."""

    sale = models.ForeignKey(Sale, verbose_name=_("sale"), on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(_("method"), max_length=10, choices=PaymentMethod.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    reference = models.CharField(_("reference"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]

    def __str__(self):
        return f"{self.get_method_display()} {self.amount}"


class Return(models.Model):
    sale = models.ForeignKey(Sale, verbose_name=_("sale"), on_delete=models.PROTECT, related_name="returns")
    shift = models.ForeignKey(
        Shift, verbose_name=_("shift"), null=True, blank=True, on_delete=models.PROTECT, related_name="returns"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("approved by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    tax = models.DecimalField(_("tax"), max_digits=12, decimal_places=2)
    # The return form's one-time token: the same form sent again finds this return and refunds nothing more.
    token = models.UUIDField(_("form token"), null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.sale} R{self.pk}"


class ReturnLine(models.Model):
    ret = models.ForeignKey(Return, verbose_name=_("return"), on_delete=models.PROTECT, related_name="lines")
    sale_line = models.ForeignKey(
        SaleLine, verbose_name=_("sale line"), on_delete=models.PROTECT, related_name="return_lines"
    )
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("return line")
        verbose_name_plural = _("return lines")
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="returnline_quantity_positive")]

    def __str__(self):
        return f"{self.sale_line} −{quantity_text(self.quantity)}"


class Refund(models.Model):
    ret = models.ForeignKey(Return, verbose_name=_("return"), on_delete=models.PROTECT, related_name="refunds")
    method = models.CharField(_("method"), max_length=10, choices=PaymentMethod.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    reference = models.CharField(_("reference"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self):
        return f"{self.get_method_display()} {self.amount}"


class Cart(models.Model):
    """A sale being rung up at a till (or held for later). Its token becomes the sale's client token."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        HELD = "held", _("held")

    register = models.ForeignKey(Register, verbose_name=_("register"), on_delete=models.CASCADE, related_name="carts")
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("cashier"), on_delete=models.CASCADE, related_name="+"
    )
    token = models.UUIDField(_("token"), default=uuid.uuid4, unique=True)
    status = models.CharField(_("status"), max_length=6, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    held_at = models.DateTimeField(_("held"), null=True, blank=True)

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")
        constraints = [
            models.UniqueConstraint(fields=["register"], condition=Q(status="open"), name="one_open_cart_per_register")
        ]

    def __str__(self):
        return f"{self.register.code} {self.get_status_display()} {self.created_at:%H:%M}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, verbose_name=_("cart"), on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="+")
    code = models.CharField(_("code scanned"), max_length=20, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    # Set when a scale label carries the line's price: the label's amount is charged, not quantity × price.
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, null=True, blank=True)
    # Set when a manager overrode the price: the line's amount is then quantity × this unit price, and it is the
    # unit price on the receipt.
    unit_price = models.DecimalField(_("overridden unit price"), max_digits=10, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        ordering = ["pk"]

    def __str__(self):
        return f"{self.product.name} × {quantity_text(self.quantity)}"


def _new_token_key() -> str:
    return secrets.token_hex(20)


class ApiToken(models.Model):
    """The key an API client sends as `Authorization: Token <key>`."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_token"
    )
    key = models.CharField(_("key"), max_length=40, unique=True, default=_new_token_key)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.user} token"


class Promotion(models.Model):
    """A pricing rule at the till. checkout.promotions applies it; docs/PROMOTIONS.md gives the precedence."""

    class Kind(models.TextChoices):
        PERCENT_OFF = "percent_off", _("percentage off")
        FIXED_PRICE = "fixed_price", _("fixed price")
        AMOUNT_OFF = "amount_off", _("amount off each")
        MULTI_PRICE = "multi_price", _("N for a price (3 for ¥10)")
        BUY_GET_FREE = "buy_get_free", _("buy N get M free")
        BASKET = "basket", _("spend at least, get an amount off the basket")

    class Scope(models.TextChoices):
        STORE = "store", _("whole store")
        CATEGORIES = "categories", _("categories (with their subcategories)")
        PRODUCTS = "products", _("products")

    name = models.CharField(_("name"), max_length=100, help_text=_("Shown on the till and the receipt."))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    scope = models.CharField(_("applies to"), max_length=10, choices=Scope.choices, default=Scope.PRODUCTS)
    products = models.ManyToManyField(Product, verbose_name=_("products"), blank=True, related_name="+")
    categories = models.ManyToManyField("catalog.Category", verbose_name=_("categories"), blank=True, related_name="+")
    value = models.DecimalField(
        _("value"),
        max_digits=10,
        decimal_places=2,
        help_text=_(
            "Percent off; the fixed unit price; yuan off each unit; the price of N units; "
            "yuan off the basket. Not used for buy N get M free."
        ),
        default=ZERO,
    )
    buy_quantity = models.PositiveSmallIntegerField(_("N (units bought)"), null=True, blank=True)
    free_quantity = models.PositiveSmallIntegerField(_("M (units free)"), null=True, blank=True)
    threshold = models.DecimalField(_("basket spend at least"), max_digits=10, decimal_places=2, null=True, blank=True)
    stackable = models.BooleanField(
        _("stacks with line promotions"),
        default=False,
        help_text=_("Basket discounts only: also count and discount lines that already have a promotion."),
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"), help_text=_("The promotion stops at this moment."))
    limit_per_sale = models.DecimalField(
        _("limit per sale"),
        max_digits=12,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("Units at the promotional price in one sale; more are at the regular price."),
    )
    quantity_limit = models.DecimalField(
        _("promotional quantity"),
        max_digits=12,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("Units sold at the promotional price in all (uses, for a basket discount); empty for no limit."),
    )
    # Written only by checkout.promotions.promotion_claim (locked, F(), guarded); never by a form's save().
    quantity_sold = models.DecimalField(_("promotional quantity sold"), max_digits=12, decimal_places=3, default=ZERO)
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords(m2m_fields=[products, categories], excluded_fields=["quantity_sold"])

    class Meta:
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")
        ordering = ["-starts_at", "pk"]
        indexes = [models.Index(fields=["active", "ends_at"], name="promotion_live")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="promotion_window_order"),
            models.CheckConstraint(condition=Q(value__gte=0), name="promotion_value_not_negative"),
            models.CheckConstraint(
                condition=Q(quantity_limit__isnull=True) | Q(quantity_sold__lte=F("quantity_limit")),
                name="promotion_never_oversold",
            ),
            models.CheckConstraint(condition=Q(quantity_sold__gte=0), name="promotion_sold_not_negative"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        # A form holds quantity_sold as it was when opened; saving it back would undo the sales in between.
        if self.pk is not None and not kwargs.get("update_fields") and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.attname for f in self._meta.concrete_fields if not f.primary_key and f.name != "quantity_sold"
            ]
        super().save(*args, **kwargs)
        transaction.on_commit(promotions_changed)

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        transaction.on_commit(promotions_changed)
        return result

    @property
    def quantity_left(self) -> Decimal | None:
        return None if self.quantity_limit is None else self.quantity_limit - self.quantity_sold

    @property
    def group_size(self) -> int | None:
        """The units in one group of a multi-buy: N for N for a price, N + M for buy N get M free."""
        if self.kind == self.Kind.MULTI_PRICE:
            return self.buy_quantity or None
        if self.kind == self.Kind.BUY_GET_FREE and self.buy_quantity and self.free_quantity:
            return self.buy_quantity + self.free_quantity
        return None

    def clean(self):
        errors = {}
        kind, Kind = self.kind, self.Kind
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("The promotion must end after it starts.")
        if kind == Kind.PERCENT_OFF and not (0 < self.value < 100):
            errors["value"] = _("A percentage off is more than 0 and less than 100.")
        if kind in (Kind.FIXED_PRICE, Kind.AMOUNT_OFF, Kind.MULTI_PRICE, Kind.BASKET) and self.value <= 0:
            errors["value"] = _("Enter the price or amount in yuan, more than zero.")
        if kind == Kind.MULTI_PRICE and (self.buy_quantity or 0) < 2:
            errors["buy_quantity"] = _("N for a price needs N of at least 2.")
        if kind == Kind.BUY_GET_FREE:
            if not self.buy_quantity:
                errors["buy_quantity"] = _("Enter how many units are bought.")
            if not self.free_quantity:
                errors["free_quantity"] = _("Enter how many units are free.")
        if kind == Kind.BASKET:
            if self.threshold is None or self.threshold <= 0:
                errors["threshold"] = _("Enter the basket spend that earns the discount.")
            elif self.value >= self.threshold:
                errors["value"] = _("The amount off must be less than the spend that earns it.")
        elif self.stackable:
            errors["stackable"] = _("Only basket discounts stack; line promotions never combine.")
        for name in ("limit_per_sale", "quantity_limit"):
            if problem := self._limit_problem(name):
                errors[name] = problem
        if (
            "quantity_limit" not in errors
            and self.quantity_limit is not None
            and self.quantity_limit < self.quantity_sold
        ):
            errors["quantity_limit"] = _("%(sold)s have been sold at this promotion already: enter at least that.") % {
                "sold": quantity_text(self.quantity_sold)
            }
        if errors:
            raise ValidationError(errors)

    def _limit_problem(self, name: str) -> str | None:
        """Why the limit in field `name` does not fit this kind of promotion, or None. Multi-buys count whole
        groups and basket discounts whole sales; the other kinds also price weighed goods, so they take decimals
        (pricing gives goods sold by the piece whole units only)."""
        limit = getattr(self, name)
        if limit is None:
            return None
        if limit <= 0:
            return _("Leave it empty for no limit, or enter more than zero.")
        whole_only = self.kind in (self.Kind.MULTI_PRICE, self.Kind.BUY_GET_FREE, self.Kind.BASKET)
        if whole_only and limit != limit.to_integral_value():
            return _("Enter a whole number for this kind of promotion.")
        if self.group_size and limit % self.group_size:
            return _("%(field)s must be a multiple of %(size)s, the size of one group.") % {
                "field": capfirst(self._meta.get_field(name).verbose_name),
                "size": self.group_size,
            }
        return None


def promotions_changed() -> None:
    """Tell every process to reload the promotion rules (checkout.promotions keeps them per process)."""
    from checkout.promotions import rules_changed  # promotions reads this module's models

    rules_changed()
