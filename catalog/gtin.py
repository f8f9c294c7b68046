"""GTIN validation and normalization: the one place that knows barcode rules.

Stored form: EAN-8 stays 8 digits; UPC-A (12 digits) becomes its 13-digit
EAN form with a leading zero, so 12- and 13-digit scans of the same item find
it; a GTIN-14 with indicator digit 0 is the GTIN-13 inside it. Store-assigned
codes (loose produce, PLU numbers) match settings.CATALOG_STORE_CODE_REGEX and
carry no check digit.
"""

import re
from functools import lru_cache

from django.conf import settings
from django.utils.translation import gettext as _

GTIN_LENGTHS = (8, 12, 13, 14)
VARIABLE_MEASURE_PREFIXES = tuple(str(p) for p in range(20, 30))


class InvalidCode(ValueError):
    """A scanned or typed code that can never be a product code."""


def check_digit(body: str) -> int:
    """GS1 mod-10 check digit for the digits before it (weights 3,1 from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


@lru_cache(maxsize=1)
def _store_code_pattern() -> re.Pattern:
    return re.compile(settings.CATALOG_STORE_CODE_REGEX)


def is_store_code(code: str) -> bool:
    return bool(_store_code_pattern().match(code))


def normalize(raw: str) -> str:
    """Return the stored form of a barcode or store code; raise InvalidCode saying why."""
    code = (raw or "").strip()
    if not code:
        raise InvalidCode(_("Empty code."))
    if not code.isascii():
        raise InvalidCode(_("Code %(code)s contains characters that are not plain digits or letters.") % {"code": code})
    if is_store_code(code.upper()):
        return code.upper()
    if not code.isdigit():
        raise InvalidCode(_("Code %(code)s is neither a barcode (digits only) nor a store code.") % {"code": code})
    if len(code) not in GTIN_LENGTHS:
        raise InvalidCode(
            _("Code %(code)s has %(n)d digits; a barcode has 8, 12, 13 or 14.") % {"code": code, "n": len(code)}
        )
    expected = check_digit(code[:-1])
    if int(code[-1]) != expected:
        raise InvalidCode(
            _("Wrong check digit in %(code)s: the last digit should be %(expected)d, not %(actual)s.")
            % {"code": code, "expected": expected, "actual": code[-1]}
        )
    if len(code) == 12:
        return "0" + code
    if len(code) == 14 and code[0] == "0":
        return code[1:]
    return code


def with_check_digit(body: str) -> str:
    """Append the check digit to a GTIN body (7, 11, 12 or 13 digits)."""
    return body + str(check_digit(body))


def is_variable_measure(code: str) -> bool:
    """A 13-digit in-store code from a scale (GS1 prefixes 20-29)."""
    return len(code) == 13 and code[:2] in VARIABLE_MEASURE_PREFIXES
