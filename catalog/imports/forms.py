from django import forms
from django.utils.translation import gettext_lazy as _


class CatalogImportForm(forms.Form):
    file = forms.FileField(
        label=_("Supplier catalog"),
        help_text=_("CSV (UTF-8 or GBK; comma, semicolon or tab) or .xlsx, with a header row."),
    )
    supplier = forms.CharField(
        label=_("Supplier"),
        required=False,
        max_length=200,
        help_text=_("For rows that name no supplier; created if new."),
    )
