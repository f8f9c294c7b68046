from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StockConfig(AppConfig):
    name = "stock"
    verbose_name = _("Stock")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from stock.cache import locations_changed
        from stock.models import Location

        post_save.connect(locations_changed, sender=Location, dispatch_uid="stock-on-hand-location-saved")
        post_delete.connect(locations_changed, sender=Location, dispatch_uid="stock-on-hand-location-deleted")
