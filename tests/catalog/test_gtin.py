import pytest

from catalog import gtin


@pytest.mark.parametrize(
    "code",
    [
        "6901234567892",  # EAN-13, domestic prefix
        "4006381333931",  # EAN-13
        "96385074",  # EAN-8
        "036000291452",  # UPC-A
        "10614141000415",  # GTIN-14 with indicator 1
    ],
)
def test_valid_codes_are_accepted(code):
    assert gtin.normalize(code)


def test_upc_a_is_stored_as_its_13_digit_form():
    assert gtin.normalize("036000291452") == "0036000291452"
    assert gtin.normalize("0036000291452") == "0036000291452"


def test_gtin14_with_indicator_zero_is_the_gtin13_inside():
    assert gtin.normalize("06901234567892") == "6901234567892"


def test_gtin14_with_indicator_digit_is_kept():
    assert gtin.normalize("10614141000415") == "10614141000415"


def test_wrong_check_digit_says_what_it_should_be():
    with pytest.raises(gtin.InvalidCode, match=r"should be 2, not 3"):
        gtin.normalize("6901234567893")


@pytest.mark.parametrize("body,digit", [("690123456789", 2), ("9638507", 4), ("03600029145", 2)])
def test_check_digit_vectors(body, digit):
    assert gtin.check_digit(body) == digit


@pytest.mark.parametrize(
    "code,reason",
    [
        ("", "Empty"),
        ("69012345678", "11 digits"),
        ("6.90123E+12", "neither a barcode"),
        ("690123456789２", "not plain digits"),
        ("1" * 50, "50 digits"),
    ],
)
def test_malformed_codes_are_rejected_with_a_reason(code, reason):
    with pytest.raises(gtin.InvalidCode, match=reason):
        gtin.normalize(code)


def test_store_codes_are_accepted_without_check_digit():
    assert gtin.normalize("4011") == "4011"
    assert gtin.normalize(" p123 ") == "P123"


def test_variable_measure_prefixes():
    assert gtin.is_variable_measure(gtin.with_check_digit("230123400150"))
    assert not gtin.is_variable_measure("6901234567892")
