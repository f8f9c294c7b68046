from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OverrideKind(models.TextChoices):
    VOID_SALE = "void_sale", _("void a completed sale")
    REFUND = "refund", _("refund")
    PRICE = "price", _("price override")
    STOCK_LIMIT = "stock_limit", _("sell past the stock on hand")
    EXPIRED = "expired", _("sell expired stock")


class ManagerOverride(models.Model):
    """One manager approval given at a till: who asked, who approved, what, when. Written by
    supermarket.overrides.override_record only; never changed afterwards."""

    kind = models.CharField(_("what"), max_length=12, choices=OverrideKind.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("asked by"), on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("approved by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    register = models.CharField(_("register"), max_length=10, blank=True)
    # A sale number, or the cart token for an override given before the sale exists.
    reference = models.CharField(_("reference"), max_length=40, blank=True, db_index=True)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, null=True, blank=True)
    # The product an approval to sell past the stock on hand was given for: it covers that product only.
    product = models.ForeignKey(
        "catalog.Product",
        verbose_name=_("product"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The approval form's one-time token: the same approval sent again is not applied twice.
    token = models.UUIDField(_("form token"), null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("manager override")
        verbose_name_plural = _("manager overrides")
        ordering = ["-created_at"]
        permissions = [
            ("approve_void_sale", _("Can void a completed sale")),
            ("approve_price", _("Can override a price at the till")),
            ("approve_stock_limit", _("Can allow selling past the stock on hand")),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.reference}"
