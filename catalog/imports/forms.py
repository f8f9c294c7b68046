from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from catalog.imports.uploads import upload_kind


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

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.CATALOG_IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is %(size)s MB; the largest catalog accepted is %(limit)s MB.")
                % {"size": round(upload.size / 1e6, 1), "limit": round(settings.CATALOG_IMPORT_MAX_BYTES / 1e6, 1)}
            )
        head = upload.read(8192)
        upload.seek(0)
        if upload_kind(head) is None:
            raise forms.ValidationError(
                _("This is not a CSV text file nor an .xlsx workbook (judged by its content, not its name).")
            )
        return upload
