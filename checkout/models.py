import secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from catalog.models import Product
from stock.models import Location

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
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
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

    class Meta:
        verbose_name = _("sale line")
        verbose_name_plural = _("sale lines")
        ordering = ["sale", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sale", "position"], name="saleline_unique_position"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="saleline_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.product.name} × {self.quantity.normalize()}"


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
        return f"{self.sale_line} −{self.quantity.normalize()}"


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

    class Meta:
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        ordering = ["pk"]

    def __str__(self):
        return f"{self.product.name} × {self.quantity.normalize()}"


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
