"""The near-expiry report's write-off button acts on the location the report shows, never on a default."""

from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from stock.models import Lot, MovementKind, StockLevel, WriteOff
from stock.services import Move, stock_move_batch
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


class _FormFields(HTMLParser):
    """What a browser sends for the form posting to `action`, left as the page shows it: hidden and text inputs,
    and each select's selected option (its first if none is selected)."""

    def __init__(self, action: str):
        super().__init__()
        self.action, self.inside, self.select = action, False, None
        self.fields: dict[str, str] = {}
        self.required: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("action") == self.action
        elif self.inside and tag == "input" and attrs.get("name") != "csrfmiddlewaretoken":
            self.fields[attrs["name"]] = attrs.get("value", "")
        elif self.inside and tag == "select":
            self.select = attrs["name"]
            if "required" in attrs:
                self.required.add(self.select)
        elif self.inside and tag == "option" and self.select:
            if self.select not in self.fields or "selected" in attrs:
                self.fields[self.select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def write_off_form(page: str) -> _FormFields:
    parser = _FormFields(reverse("stock:expired-write-off"))
    parser.feed(page)
    return parser


@pytest.fixture
def expired_here_and_there(floor, backroom):
    """Milk expired yesterday: 2 on the store floor, 3 in the backroom."""
    milk = ProductFactory(lot_tracked=True)
    gone = Lot.objects.create(product=milk, code="GONE", expiry_date=timezone.localdate() - timedelta(days=1))
    stock_move_batch(
        moves=[Move(milk, floor, Decimal(2), gone), Move(milk, backroom, Decimal(3), gone)], kind=MovementKind.RECEIPT
    )
    return gone


def on_hand(lot, location) -> Decimal:
    return StockLevel.objects.get(lot=lot, location=location).on_hand


def test_writing_off_from_the_report_filtered_to_the_floor_writes_off_the_floor(
    admin_client, floor, backroom, expired_here_and_there
):
    page = admin_client.get(reverse("stock:near-expiry"), {"days": 3, "location": floor.pk}).content.decode()
    form = write_off_form(page)
    assert form.fields == {"location": str(floor.pk)}
    assert f"Write off everything expired at {floor}" in page
    response = admin_client.post(reverse("stock:expired-write-off"), form.fields, follow=True)
    assert on_hand(expired_here_and_there, floor) == 0
    assert on_hand(expired_here_and_there, backroom) == 3
    write_off = WriteOff.objects.get()
    assert write_off.location == floor
    assert f"{write_off}: expired lots at {floor} written off." in response.content.decode()


def test_with_all_locations_shown_the_write_off_asks_which_location(
    admin_client, floor, backroom, expired_here_and_there
):
    page = admin_client.get(reverse("stock:near-expiry"), {"days": 3, "location": ""}).content.decode()
    form = write_off_form(page)
    assert form.fields == {"location": ""}  # nothing chosen until the manager chooses
    assert form.required == {"location"}
    # Sent without a choice anyway (the browser stops it first), nothing is written off.
    assert admin_client.post(reverse("stock:expired-write-off"), form.fields).status_code == 400
    assert not WriteOff.objects.exists()
    response = admin_client.post(reverse("stock:expired-write-off"), {"location": backroom.pk}, follow=True)
    assert (on_hand(expired_here_and_there, floor), on_hand(expired_here_and_there, backroom)) == (2, 0)
    assert f"expired lots at {backroom} written off." in response.content.decode()
