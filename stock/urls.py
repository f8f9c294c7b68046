from django.urls import path

from stock import views

app_name = "stock"

urlpatterns = [
    path("", views.home, name="home"),
    path("receiving/", views.receiving_list, name="receiving-list"),
    path("receiving/start/", views.receiving_start, name="receiving-start"),
    path("receiving/<int:pk>/", views.receipt_detail, name="receipt-detail"),
    path("receiving/<int:pk>/scan/", views.receipt_scan, name="receipt-scan"),
    path("receiving/<int:pk>/post/", views.receipt_post, name="receipt-post"),
    path("receiving/<int:pk>/discard/", views.receipt_discard, name="receipt-discard"),
    path("receiving/lines/<int:pk>/", views.receipt_line_update, name="receipt-line-update"),
    path("counts/", views.count_list, name="count-list"),
    path("counts/<int:pk>/", views.count_detail, name="count-detail"),
    path("counts/<int:pk>/add/", views.count_add, name="count-add"),
    path("counts/<int:pk>/undo/", views.count_undo, name="count-undo"),
    path("counts/<int:pk>/review/", views.count_review, name="count-review"),
    path("counts/<int:pk>/post/", views.count_post, name="count-post"),
    path("replenishment/", views.replenishment_list, name="replenishment"),
    path("replenishment/order/", views.replenishment_order, name="replenishment-order"),
    path("replenishment/<int:pk>/dismiss/", views.suggestion_dismiss, name="suggestion-dismiss"),
    path("expiry/", views.near_expiry, name="near-expiry"),
    path("expiry/write-off/", views.expired_write_off, name="expired-write-off"),
    path("transfers/new/", views.transfer_new, name="transfer-new"),
    path("write-offs/new/", views.write_off_new, name="write-off-new"),
]
