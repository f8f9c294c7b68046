from decimal import Decimal

import pytest

from supermarket.money import quantity_text
from supermarket.templatetags.yuan import qty


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("10.000", "10"),
        ("100", "100"),
        ("1E+3", "1000"),
        ("0.250", "0.25"),
        ("12.500", "12.5"),
        ("-20.000", "-20"),
        ("-0.000", "0"),
        ("0", "0"),
    ],
)
def test_a_quantity_is_written_without_trailing_zeros_or_an_exponent(value, text):
    assert quantity_text(Decimal(value)) == text
    assert qty(Decimal(value)) == text


def test_the_template_filter_takes_what_a_template_may_hand_it():
    assert (qty(None), qty(""), qty(3), qty("2.50"), qty(0.5)) == ("", "", "3", "2.5", "0.5")
