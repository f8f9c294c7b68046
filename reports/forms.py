from datetime import date, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from checkout.models import Register, Sale, Shift
from reports.services import history_end_latest, history_end_problem
from stock.models import Location

MAX_RANGE_DAYS = 3 * 366
# Reports reach back a year before the start (same weekday last year) and ten years before the end (slow
# movers), and draw their dates on charts: far dates overflow date arithmetic and Matplotlib. No store has
# sales before 2000 nor plans reports more than a year ahead.
EARLIEST_DATE = date(2000, 1, 1)


def latest_date() -> date:
    return timezone.localdate() + timedelta(days=365)


def date_in_range(value: date | None) -> date | None:
    """The value, if a report can use it; a ValidationError naming the allowed range otherwise."""
    if value is not None and not EARLIEST_DATE <= value <= latest_date():
        raise forms.ValidationError(
            _("%(date)s is outside the dates reports cover: from %(earliest)s to %(latest)s.")
            % {"date": value.isoformat(), "earliest": EARLIEST_DATE.isoformat(), "latest": latest_date().isoformat()}
        )
    return value


def cashiers():
    """Active users and the former staff who worked a till: a cashier who has left is still in past shifts.

    One query over the few users; each inactive one costs an index probe per table, not a scan of the sales.
    """
    worked = (
        Exists(Shift.objects.filter(opened_by=OuterRef("pk")))
        | Exists(Shift.objects.filter(closed_by=OuterRef("pk")))
        | Exists(Sale.objects.filter(cashier=OuterRef("pk")))
    )
    return get_user_model().objects.filter(Q(is_active=True) | worked).order_by("username")


class ReportFilterForm(forms.Form):
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    location = forms.ModelChoiceField(
        label=_("Location"), queryset=Location.objects.all(), required=False, empty_label=_("All locations")
    )
    register = forms.ModelChoiceField(
        label=_("Register"), queryset=Register.objects.all(), required=False, empty_label=_("All registers")
    )
    cashier = forms.ModelChoiceField(
        label=_("Cashier"),
        queryset=cashiers(),
        required=False,
        empty_label=_("All cashiers"),
    )
    days = forms.IntegerField(label=_("Days without sale"), min_value=1, max_value=3650, required=False)

    def clean_start(self) -> date | None:
        return date_in_range(self.cleaned_data.get("start"))

    def clean_end(self) -> date | None:
        return date_in_range(self.cleaned_data.get("end"))

    def clean(self):
        data = super().clean()
        if self.has_error("start") or self.has_error("end"):
            return data
        today = timezone.localdate()
        data["end"] = data.get("end") or today
        data["start"] = data.get("start") or max(data["end"] - timedelta(days=29), EARLIEST_DATE)
        data["days"] = data.get("days") or 30
        if data["end"] < data["start"]:
            raise forms.ValidationError(_("The end date is before the start date."))
        if (data["end"] - data["start"]).days >= MAX_RANGE_DAYS:
            raise forms.ValidationError(_("Choose a range of at most three years."))
        return data


class ForecastLocationForm(forms.Form):
    """The forecast page's location; none chosen means the default location."""

    location = forms.ModelChoiceField(label=_("Location"), queryset=Location.objects.all(), required=False)


class ForecastRunForm(forms.Form):
    location = forms.ModelChoiceField(label=_("Location"), queryset=Location.objects.all())
    horizon = forms.IntegerField(label=_("Horizon (days)"), min_value=1, max_value=60, initial=7)
    history_end = forms.DateField(
        label=_("Last day of history"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_history_end(self) -> date:
        value = date_in_range(self.cleaned_data.get("history_end")) or history_end_latest()
        if problem := history_end_problem(value):
            raise forms.ValidationError(problem)
        return value
