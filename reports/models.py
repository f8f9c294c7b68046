from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from catalog.models import Category, Product
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


class SalesCategoryDaily(models.Model):
    """Daily net sales per category and location, kept equal to the sum of SalesDaily by a database trigger.

    A year of product rollups is about 1.8 million rows for 5,000 products, too many to
    add up within a page view; this one is a few thousand. The trigger (migration 0003)
    changes it in the same transaction as every SalesDaily insert, update and delete, bulk
    ones included, so it cannot drift. Sales count in the category the product had when
    its day's row changed.
    """

    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(Location, verbose_name=_("location"), on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day"))
    quantity = models.DecimalField(_("quantity"), max_digits=16, decimal_places=3, default=ZERO)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, default=ZERO)
    cost = models.DecimalField(_("cost"), max_digits=18, decimal_places=4, default=ZERO)

    class Meta:
        verbose_name = _("daily sales per category")
        verbose_name_plural = _("daily sales per category")
        constraints = [
            models.UniqueConstraint(
                fields=["category", "location", "day"], name="salescategorydaily_unique_category_location_day"
            )
        ]
        indexes = [models.Index(fields=["day"], name="salescategorydaily_day")]

    def __str__(self):
        return f"{self.day} category {self.category_id}@{self.location_id}: {self.amount}"


class ForecastMethod(models.TextChoices):
    ARIMA = "arima", _("ARIMA with weekly seasonality")
    CROSTON = "croston", _("Croston (SBA) for intermittent demand")
    SEASONAL_NAIVE = "seasonal_naive", _("seasonal naive (same weekday last week)")
    MEAN = "mean", _("mean of a short history")
    ZERO = "zero", _("no demand")
    STOPPED = "stopped", _("no sale for much longer than usual")


class Forecast(models.Model):
    """The current daily demand forecast of one product at one location, replaced by each run."""

    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(Location, verbose_name=_("location"), on_delete=models.CASCADE, related_name="+")
    made_at = models.DateTimeField(_("made at"))
    history_end = models.DateField(_("last day of history used"))
    method = models.CharField(_("method"), max_length=20, choices=ForecastMethod.choices)
    # The ARIMA order chosen by the last search, e.g. [2, 0, 1], reused until search_on + a week.
    order = models.JSONField(_("model order"), null=True, blank=True)
    searched_on = models.DateField(_("order searched on"), null=True, blank=True)
    # Its fitted parameters, reused without a fit on the nights between searches while they still fit.
    params = models.JSONField(_("model parameters"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("forecast")
        verbose_name_plural = _("forecasts")
        constraints = [
            models.UniqueConstraint(fields=["product", "location"], name="forecast_one_per_product_location")
        ]

    def __str__(self):
        return f"{self.product_id}@{self.location_id} {self.method} to {self.history_end}"


class ForecastDay(models.Model):
    """Expected demand of one future day with its 80% prediction interval."""

    forecast = models.ForeignKey(Forecast, verbose_name=_("forecast"), on_delete=models.CASCADE, related_name="days")
    day = models.DateField(_("day"))
    mean = models.DecimalField(_("expected demand"), max_digits=12, decimal_places=3)
    lower = models.DecimalField(_("lower bound (80%)"), max_digits=12, decimal_places=3)
    upper = models.DecimalField(_("upper bound (80%)"), max_digits=12, decimal_places=3)

    class Meta:
        verbose_name = _("forecast day")
        verbose_name_plural = _("forecast days")
        ordering = ["forecast", "day"]
        constraints = [
            models.UniqueConstraint(fields=["forecast", "day"], name="forecastday_unique_day"),
            models.CheckConstraint(
                condition=models.Q(lower__lte=models.F("mean"), mean__lte=models.F("upper"), lower__gte=0),
                name="forecastday_interval_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.day}: {self.mean} [{self.lower}, {self.upper}]"


class JobRun(models.Model):
    """One background job as people see it: its state, progress and error, whether it ran on RQ or inline."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    class Kind(models.TextChoices):
        FORECAST_BATCH = "forecast_batch", _("forecasts of all active products")
        FORECAST_CHUNK = "forecast_chunk", _("forecasts of a share of the products")
        REPORT_EXPORT = "report_export", _("report export")

    kind = models.CharField(_("kind"), max_length=40, choices=Kind.choices)
    queue = models.CharField(_("queue"), max_length=20, default="default")
    arguments = models.JSONField(_("arguments"), default=dict)
    parent = models.ForeignKey(
        "self", verbose_name=_("part of"), on_delete=models.CASCADE, null=True, blank=True, related_name="parts"
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(_("done"), default=0)
    total = models.PositiveIntegerField(_("total"), default=0)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.kind} #{self.pk} {self.status}"

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else (100 if self.status == "done" else 0)

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
