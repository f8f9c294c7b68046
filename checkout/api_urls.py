from django.urls import path

from checkout import api

app_name = "checkout-api"

urlpatterns = [
    path("products/<str:code>", api.product_detail, name="product-detail"),
    path("sales", api.sale_create, name="sale-create"),
    path("sales/<str:number>", api.sale_detail, name="sale-detail"),
    path("openapi.json", api.openapi, name="openapi"),
]
