from datetime import date, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from checkout.models import Register
from stock.models import Location

MAX_RANGE_DAYS = 3 * 366


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
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        empty_label=_("All cashiers"),
    )
    days = forms.IntegerField(label=_("Days without sale"), min_value=1, max_value=3650, required=False)

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        data["end"] = data.get("end") or today
        data["start"] = data.get("start") or data["end"] - timedelta(days=29)
        data["days"] = data.get("days") or 30
        if data["end"] < data["start"]:
            raise forms.ValidationError(_("The end date is before the start date."))
        if (data["end"] - data["start"]).days >= MAX_RANGE_DAYS:
            raise forms.ValidationError(_("Choose a range of at most three years."))
        return data


class ForecastRunForm(forms.Form):
    location = forms.ModelChoiceField(label=_("Location"), queryset=Location.objects.all())
    horizon = forms.IntegerField(label=_("Horizon (days)"), min_value=1, max_value=60, initial=7)
    history_end = forms.DateField(
        label=_("Last day of history"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_history_end(self) -> date:
        return self.cleaned_data.get("history_end") or timezone.localdate() - timedelta(days=1)
