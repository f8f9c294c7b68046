from decimal import Decimal

from django.db import transaction
from django.http import HttpResponse
from django.test import RequestFactory

from catalog.models import Category, Product
from stock.models import Location, MovementKind, StockLevel
from stock.services import stock_move
from supermarket import db_router
from tests.factories import CategoryFactory, ProductFactory
from tests.replica.conftest import wait_for_replica


def test_writes_go_to_the_primary_and_stream_to_the_replica(live):
    category = CategoryFactory(name="复制测试")
    assert Category.objects.using("default").filter(pk=category.pk).exists()
    wait_for_replica()
    assert Category.objects.using("replica").filter(pk=category.pk).exists()


def test_plain_reads_are_served_by_the_replica(replica_paused):
    category = Category(name="只在主库")
    category.save(using="default")  # bypasses the router: nothing pins this thread
    db_router.unpin()
    assert Category.objects.using("default").filter(pk=category.pk).exists()
    # The lagging replica answers the routed read, so the new row is not there yet.
    assert not Category.objects.filter(pk=category.pk).exists()


def test_reads_after_a_write_in_the_same_request_see_it_despite_lag(replica_paused):
    product = ProductFactory(name="刚写入")
    assert not Product.objects.using("replica").filter(pk=product.pk).exists()
    assert Product.objects.get(pk=product.pk).name == "刚写入"


def test_stock_move_reads_and_writes_the_primary_inside_its_transaction(replica_paused):
    product = ProductFactory()
    location = Location.default()
    db_router.unpin()
    with transaction.atomic():
        assert db_router.pinned()
    stock_move(product=product, location=location, quantity=Decimal(5), kind=MovementKind.RECEIPT)
    assert not StockLevel.objects.using("replica").filter(product_id=product.pk).exists()
    assert StockLevel.objects.get(product=product, location=location).on_hand == 5


def test_a_browser_that_just_wrote_is_pinned_to_the_primary_on_its_next_request(live, settings):
    factory = RequestFactory()
    seen = {}

    def writing_view(request):
        CategoryFactory()
        return HttpResponse()

    def reading_view(request):
        seen["pinned"] = db_router.pinned()
        return HttpResponse()

    response = db_router.PrimaryPinMiddleware(writing_view)(factory.post("/"))
    cookie = response.cookies[db_router.PIN_COOKIE]
    assert cookie["max-age"] == settings.REPLICA_PIN_SECONDS

    db_router.PrimaryPinMiddleware(reading_view)(factory.get("/"))
    assert seen["pinned"] is False
    request = factory.get("/")
    request.COOKIES[db_router.PIN_COOKIE] = "1"
    db_router.PrimaryPinMiddleware(reading_view)(request)
    assert seen["pinned"] is True
