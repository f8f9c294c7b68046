"""GS1-128 case labels: the Application Identifiers a receiving clerk meets on a pallet or case.

Handled: 01 (GTIN of the item on the label), 02 (GTIN of the items inside a
logistic unit, always with 37), 10 (batch/lot), 17 (use-by/expiry date),
37 (count of items inside), 310x (net weight in kg with x decimals); the other
fixed-length AIs that commonly share the label (00, 11, 13, 15, 20) are
skipped over so they do not break parsing. Scanners send the label either raw
(variable-length fields ended by the FNC1/GS character, often with the ]C1
symbology prefix) or as the printed text with the AIs in parentheses; both
forms are accepted.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import gtin

GS = "\x1d"
# AI -> fixed length of its data (None: variable, ended by GS or the end of the label).
FIXED = {"00": 18, "01": 14, "02": 14, "11": 6, "13": 6, "15": 6, "17": 6, "20": 2}
VARIABLE = {"10": 20, "21": 20, "37": 8}
WEIGHT_AI = re.compile(r"^310[0-5]$")
PRINTED = re.compile(r"\((\d{2,4})\)([^()]*)")


class InvalidLabel(ValueError):
    """Text that claims to be a GS1-128 label but cannot be read as one."""


@dataclass(frozen=True)
class CaseLabel:
    """What a case label says. gtin is in the catalog's stored form (catalog.gtin.normalize)."""

    gtin: str
    contains_items: bool = False  # AI 02: gtin names the items inside, count says how many
    lot: str = ""
    expiry: date | None = None
    count: int | None = None
    net_weight_kg: Decimal | None = None


def looks_like_label(text: str) -> bool:
    """True for text a scanner produces from a GS1-128 label rather than a plain EAN/UPC barcode."""
    text = text.strip()
    if text.startswith("]C1") or text.startswith("(") or GS in text:
        return True
    return text[:2] in ("01", "02") and len(text) > 16 and text[:16].isdigit()


def _expiry(value: str) -> date:
    """YYMMDD with the GS1 century rule; day 00 means the last day of the month."""
    if not value.isdigit():
        raise InvalidLabel(_("Expiry date %(value)s is not six digits (YYMMDD).") % {"value": value})
    yy, month, day = int(value[:2]), int(value[2:4]), int(value[4:])
    this_year = timezone.localdate().year
    century = this_year // 100 * 100
    diff = yy - this_year % 100
    if diff >= 51:
        century -= 100
    elif diff <= -50:
        century += 100
    year = century + yy
    if not 1 <= month <= 12:
        raise InvalidLabel(_("Expiry date %(value)s has month %(month)02d.") % {"value": value, "month": month})
    if day == 0:
        day = calendar.monthrange(year, month)[1]
    try:
        return date(year, month, day)
    except ValueError:
        raise InvalidLabel(_("Expiry date %(value)s is not a real date.") % {"value": value}) from None


def _fields_printed(text: str) -> list[tuple[str, str]]:
    fields = PRINTED.findall(text)
    if not fields or PRINTED.sub("", text).strip():
        raise InvalidLabel(_("Label %(text)s is not a sequence of (AI)value fields.") % {"text": text})
    return [(ai, value.strip()) for ai, value in fields]


def _fields_raw(text: str) -> list[tuple[str, str]]:
    fields, pos = [], 0
    while pos < len(text):
        if text[pos] == GS:
            pos += 1
            continue
        head = text[pos : pos + 4]
        if WEIGHT_AI.match(head):
            ai, length = head, 6
        elif head[:2] in FIXED:
            ai, length = head[:2], FIXED[head[:2]]
        elif head[:2] in VARIABLE:
            ai, length = head[:2], None
        else:
            raise InvalidLabel(
                _("Unknown Application Identifier %(ai)s at position %(pos)d of the label.")
                % {"ai": head[:2], "pos": pos + 1}
            )
        start = pos + len(ai)
        if length is None:
            end = text.find(GS, start)
            end = len(text) if end < 0 else end
        else:
            end = start + length
            if end > len(text):
                raise InvalidLabel(_("AI %(ai)s is cut short: it needs %(n)d digits.") % {"ai": ai, "n": length})
        fields.append((ai, text[start:end]))
        pos = end
    return fields


def fields(text: str) -> list[tuple[str, str]]:
    """The label's (AI, value) fields in their order, read from the printed form, (01)…(10)…, or as a scanner sends
    it (]C1 01…, variable-length fields ended by GS). Raises InvalidLabel for text that is neither."""
    text = (text or "").strip().removeprefix("]C1")
    if not text:
        raise InvalidLabel(_("Empty label."))
    return _fields_printed(text) if text.startswith("(") else _fields_raw(text)


def parse(text: str) -> CaseLabel:
    """Read a GS1-128 label; raise InvalidLabel saying which field is wrong.

    The GTIN's check digit is verified and it is returned in the catalog's stored
    form so that it can be looked up like any scanned barcode.
    """
    values: dict = {}
    for ai, value in fields(text):
        if ai in ("01", "02"):
            if "gtin" in values:
                raise InvalidLabel(_("The label carries more than one GTIN."))
            try:
                values["gtin"] = gtin.normalize(value)
            except gtin.InvalidCode as exc:
                raise InvalidLabel(_("GTIN on the label: %(error)s") % {"error": exc}) from None
            values["contains_items"] = ai == "02"
        elif ai == "10":
            if not value or len(value) > VARIABLE["10"]:
                raise InvalidLabel(_("Lot (AI 10) must have 1 to 20 characters."))
            values["lot"] = value
        elif ai == "17":
            values["expiry"] = _expiry(value)
        elif ai == "37":
            if not value.isdigit() or int(value) <= 0:
                raise InvalidLabel(_("Count (AI 37) must be a positive whole number, not %(v)s.") % {"v": value})
            values["count"] = int(value)
        elif WEIGHT_AI.match(ai):
            if not value.isdigit() or len(value) != 6:
                raise InvalidLabel(_("Net weight (AI %(ai)s) must be six digits.") % {"ai": ai})
            values["net_weight_kg"] = Decimal(value).scaleb(-int(ai[3]))
    if "gtin" not in values:
        raise InvalidLabel(_("The label has no GTIN (AI 01 or 02)."))
    if values.get("contains_items") and "count" not in values:
        raise InvalidLabel(_("AI 02 (items inside) needs a count (AI 37)."))
    return CaseLabel(**values)
