from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class SupermarketConfig(AppConfig):
    name = "supermarket"
    verbose_name = _("Store security")

    def ready(self):
        from supermarket import access, middleware, roles, sql  # noqa: F401 (middleware: its system check)

        sql.statement_cache_widen()

        # After every migrate (and after a test flush, which empties auth tables) the groups match roles.py again.
        post_migrate.connect(roles.sync_after_migrate, sender=self)
        access.connect_cache_invalidation()
