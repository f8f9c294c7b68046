"""Each basket line's HTML is kept per worker under what it shows: whatever changes on a line shows at the next
render, and lines that did not change are not rendered again."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import translation
from django.utils.autoreload import file_changed

from catalog.models import Product
from checkout.pricing import PricedLine
from checkout.selectors import BasketLine
from checkout.templatetags import till as till_tags
from tests.checkout.test_till import lines


@pytest.fixture(autouse=True)
def no_kept_lines():
    till_tags._lines.clear()
    yield
    till_tags._lines.clear()


def basket_line(*, unit_price="4.50", quantity="1", on_hand_after="9", promotion="", saving="0") -> BasketLine:
    priced = PricedLine(
        product=Product(name="牛奶 Milk"),
        code="6901234567892",
        quantity=Decimal(quantity),
        unit_price=Decimal(unit_price),
        amount=Decimal(unit_price) * Decimal(quantity),
        tax=Decimal("0.50"),
        cost=Decimal("3.00"),
        saving=Decimal(saving),
        promotion=promotion,
    )
    return BasketLine(pk=7, priced=priced, on_hand_after=Decimal(on_hand_after), label_priced=False, overridden=False)


def cell(html: str, name: str) -> str:
    return re.search(rf'<td class="num {name}[^"]*">([^<]*)</td>', html).group(1)


def test_a_line_unchanged_by_the_scan_shows_what_another_till_sold_meanwhile(
    till, stocked, register, floor, cashier, sell
):
    from checkout.models import Register
    from checkout.services import shift_open

    milk, bread = stocked(2, on_hand=Decimal(10))
    till("scan/", code=milk.barcode)
    till("scan/", code=bread.barcode)
    other = Register.objects.create(code="T02", name="2", location=floor)
    shift_open(register=other, opening_float=Decimal(0), user=cashier)
    sell(other, [(milk, 3)])
    html = till("scan/", code=bread.barcode).content.decode()
    # Milk's line was not scanned again, but its on-hand after the sale is 10 - 3 - 1.
    assert [cell(row, "on-hand") for row in html.split('<tr class="line"')[1:]] == ["6", "8"]
    assert [qty for _name, qty in lines(till("scan/", code=milk.barcode))] == ["2", "2"]


def test_equal_numbers_written_differently_are_not_taken_for_each_other():
    short = till_tags.till_line(basket_line(unit_price="4.5"), 1)
    padded = till_tags.till_line(basket_line(unit_price="4.50"), 1)
    assert (cell(short, "price"), cell(padded, "price")) == ("4.5", "4.50")


def test_whole_tens_are_written_as_people_write_them():
    html = till_tags.till_line(basket_line(quantity="10.000", on_hand_after="100.000"), 1)
    assert (cell(html, "qty"), cell(html, "on-hand")) == ("10", "100")


def test_a_line_is_rendered_in_the_language_of_the_request():
    line = basket_line(promotion="第二件半价", saving="2.25")
    with translation.override("zh-hans"):
        chinese = till_tags.till_line(line, 1)
    with translation.override("en"):
        english = till_tags.till_line(line, 1)
    assert "第二件半价 · 优惠 ¥2.25" in chinese
    assert "第二件半价 · saving ¥2.25" in english


def test_a_line_already_rendered_is_taken_as_it_was_and_the_kept_lines_are_bounded(monkeypatch):
    monkeypatch.setattr(till_tags, "LINES_KEPT", 3)
    first = till_tags.till_line(basket_line(quantity="1"), 1)
    assert till_tags.till_line(basket_line(quantity="1"), 1) is first
    rendered = [till_tags.till_line(basket_line(quantity=str(n)), n) for n in range(2, 7)]
    assert len(till_tags._lines) <= 3
    assert [(cell(html, "qty"), re.search(r"<td>(\d+)</td>", html).group(1)) for html in rendered] == [
        (str(n), str(n)) for n in range(2, 7)
    ]


def test_rows_are_forgotten_when_a_setting_changes_or_a_template_is_edited():
    line = basket_line(promotion="第二件半价", saving="2.25")
    with translation.override("en"):
        assert "saving ¥2.25" in till_tags.till_line(line, 1)
        with override_settings(CURRENCY_SYMBOL="RMB "):
            assert "saving RMB 2.25" in till_tags.till_line(line, 1)
        assert "saving ¥2.25" in till_tags.till_line(line, 1)
        file_changed.send(sender=None, file_path=Path("templates/checkout/till.html"))
        assert not till_tags._lines
