from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from supermarket import views
from supermarket.metrics import metrics_view

admin.site.site_header = _("Supermarket back office")
admin.site.site_title = _("Supermarket")
admin.site.index_title = _("Back office")

urlpatterns = [
    # First: the URL resolver tries patterns in order, and scanners and tills call the API many times a second.
    path("api/", include("checkout.api_urls")),
    path("api/", include("catalog.urls")),
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("checkout/", include("checkout.urls")),
    path("stock/", include("stock.urls")),
    path("reports/", include("reports.urls")),
]
