from decimal import Decimal

import factory

from catalog import gtin
from catalog.models import Category, Product, ProductBarcode, Supplier
from stock.models import Location


def ean13(n: int) -> str:
    """A valid domestic EAN-13 (690 prefix) built from a sequence number."""
    return gtin.with_check_digit(f"690{n:09d}")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"类别{n}")
    name_en = factory.Sequence(lambda n: f"Category {n}")


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier

    name = factory.Sequence(lambda n: f"供应商{n}")
    lead_time_days = 3


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    barcode = factory.Sequence(ean13)
    name = factory.Sequence(lambda n: f"商品{n}")
    name_en = factory.Sequence(lambda n: f"Product {n}")
    category = factory.SubFactory(CategoryFactory)
    supplier = factory.SubFactory(SupplierFactory)
    purchase_price = Decimal("3.20")
    selling_price = Decimal("4.50")


class ProductBarcodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductBarcode

    product = factory.SubFactory(ProductFactory)
    barcode = factory.Sequence(lambda n: ean13(500_000_000 + n))
    pack_quantity = 1


def default_location() -> Location:
    return Location.default()
