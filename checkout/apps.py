from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CheckoutConfig(AppConfig):
    name = "checkout"
    verbose_name = _("Checkout")

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from checkout.cache import registers_changed
        from checkout.models import ApiToken, Register
        from stock.models import Location
        from supermarket.auth import api_tokens_changed

        for receiver, models in (
            (api_tokens_changed, (ApiToken, get_user_model())),
            (registers_changed, (Register, Location)),
        ):
            for model in models:
                uid = f"{receiver.__name__}-{model._meta.label}"
                post_save.connect(receiver, sender=model, dispatch_uid=uid)
                post_delete.connect(receiver, sender=model, dispatch_uid=f"{uid}-delete")
