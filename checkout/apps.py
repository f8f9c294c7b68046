from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CheckoutConfig(AppConfig):
    name = "checkout"
    verbose_name = _("Checkout")

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from checkout.models import ApiToken
        from supermarket.auth import api_tokens_changed

        for model in (ApiToken, get_user_model()):
            post_save.connect(api_tokens_changed, sender=model, dispatch_uid=f"api-tokens-{model._meta.label}")
            post_delete.connect(api_tokens_changed, sender=model, dispatch_uid=f"api-tokens-del-{model._meta.label}")
