"""The admin app, with tablib's XLSX format registered to load on first use, before the admin autodiscovers.

django-import-export decides at import time which formats tablib can handle
(base_formats.DEFAULT_FORMATS calls is_available() on each), and tablib answers
for XLSX by importing its openpyxl module, which imports numpy and Pillow:
about 30 MB in every web worker before its first request, for a format used
only when someone imports or exports a spreadsheet. Registering XLSX as a class
that loads tablib's own on first use keeps the answer (available) and moves
the cost to the first XLSX import or export in that process.
"""

from importlib.util import find_spec

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class _LoadedOnUse(type):
    def __getattr__(cls, name: str):
        from tablib.formats._xlsx import XLSXFormat

        return getattr(XLSXFormat, name)


class LazyXLSXFormat(metaclass=_LoadedOnUse):
    """tablib's XLSXFormat: every attribute but these two comes from it, imported (with openpyxl) when first asked."""

    title = "xlsx"
    extensions = ("xlsx",)


def register_lazy_xlsx() -> None:
    """Replace tablib's registration of XLSX (a dotted path import_export loads at once) with LazyXLSXFormat."""
    import tablib  # noqa: F401  (tablib.core registers the built-in formats on import; ours must come after)
    from tablib.formats import registry

    if find_spec("openpyxl"):  # the condition tablib registers XLSX under
        registry.register("xlsx", LazyXLSXFormat)


class AdminConfig(DjangoAdminConfig):
    def ready(self) -> None:
        register_lazy_xlsx()  # before super().ready() autodiscovers import_export.admin
        super().ready()
