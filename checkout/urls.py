from django.contrib.auth import views as auth_views
from django.urls import path

from checkout import override_views, views

app_name = "checkout"

urlpatterns = [
    path("", views.till, name="till"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="checkout/login.html", next_page="checkout:till"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="checkout:login"), name="logout"),
    path("register/", views.register_choose, name="register-choose"),
    path("scan/", views.scan, name="scan"),
    path("add/", views.add_product, name="add-product"),
    path("line/quantity/", views.line_quantity, name="line-quantity"),
    path("line/void/", views.line_void, name="line-void"),
    path("hold/", views.hold, name="hold"),
    path("recall/", views.recall, name="recall"),
    path("cancel/", views.cancel, name="cancel"),
    path("pay/", views.pay, name="pay"),
    path("sales/<str:number>/receipt/", views.receipt, name="receipt"),
    path("shift/open/", views.shift_open_view, name="shift-open"),
    path("shift/close/", views.shift_close_view, name="shift-close"),
    path("shifts/<int:pk>/", views.shift_report_view, name="shift-report"),
    path("returns/", views.sale_return_view, name="return"),
    path("override/", override_views.override, name="override"),
    path("overrides/", override_views.override_list, name="override-list"),
]
