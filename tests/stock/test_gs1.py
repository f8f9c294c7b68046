from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog import gs1, gtin
from tests.factories import ean13

GS = gs1.GS


def gtin14(n: int, indicator: str = "1") -> str:
    return gtin.with_check_digit(indicator + ean13(n)[:-1])


def test_raw_label_with_gtin_expiry_lot_and_count():
    code = gtin14(7)
    label = gs1.parse(f"]C101{code}17261231" + f"10LOT-7A{GS}3712")
    assert label == gs1.CaseLabel(gtin=code, lot="LOT-7A", expiry=date(2026, 12, 31), count=12)


def test_printed_label_with_contained_items_and_weight():
    inner = ean13(8)
    label = gs1.parse(f"(02)0{inner}(37)6(3102)012345(10)B9")
    assert label.gtin == inner and label.contains_items
    assert label.count == 6 and label.lot == "B9"
    assert label.net_weight_kg == Decimal("123.45")


def test_day_zero_means_the_last_day_of_the_month():
    assert gs1.parse(f"01{gtin14(1)}17270200").expiry == date(2027, 2, 28)


def test_century_follows_the_gs1_sliding_window():
    this_year = timezone.localdate().year
    far = (this_year + 60) % 100
    label = gs1.parse(f"01{gtin14(1)}17{far:02d}0101")
    assert label.expiry.year == this_year + 60 - 100


def test_the_lot_ends_at_the_group_separator_not_at_the_next_digits():
    label = gs1.parse(f"01{gtin14(2)}10ABC123{GS}17270115")
    assert label.lot == "ABC123" and label.expiry == date(2027, 1, 15)


@pytest.mark.parametrize(
    "text, message",
    [
        ("0112345678901234", "check digit"),
        (f"01{gtin14(3)}17261340", "month 13"),
        (f"01{gtin14(3)}1726023", "cut short"),
        (f"01{gtin14(3)}99XYZ", "Unknown Application Identifier 99"),
        (f"(02)0{ean13(4)}(10)A", "needs a count"),
        ("(10)ABC", "no GTIN"),
        (f"01{gtin14(3)}370", "positive whole number"),
    ],
)
def test_bad_labels_say_what_is_wrong(text, message):
    with pytest.raises(gs1.InvalidLabel, match=message):
        gs1.parse(text)


def test_plain_barcodes_are_not_taken_for_labels():
    assert not gs1.looks_like_label(ean13(5))
    assert gs1.looks_like_label(f"01{gtin14(5)}10X")
    assert gs1.looks_like_label(f"(01){gtin14(5)}")
