"""What a supplier spreadsheet cell means: column headers, barcodes, prices, units.

Every parser takes the cell text and returns the stored value or raises
CellError with a message a buyer can act on (the row and column are added by
the caller).
"""

import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from catalog import gtin
from catalog.models import Unit


class CellError(ValueError):
    """One cell that cannot be imported, and why."""


class AmountTooLarge(CellError):
    """A number beyond what its column stores."""


# Header spellings seen in supplier files, compared after _header_key().
HEADERS: dict[str, tuple[str, ...]] = {
    "barcode": ("barcode", "ean", "ean13", "gtin", "upc", "条码", "条形码", "商品条码", "国际条码"),
    "name": ("name", "productname", "description", "商品名称", "品名", "名称"),
    "name_en": ("nameen", "englishname", "英文名称", "英文名"),
    "category": ("category", "类别", "分类", "商品类别", "品类"),
    "purchase_price": ("purchaseprice", "cost", "costprice", "进价", "进货价", "采购价"),
    "selling_price": ("sellingprice", "price", "retailprice", "售价", "零售价", "销售价"),
    "supplier": ("supplier", "vendor", "供应商", "供货商"),
    "safety_stock": ("safetystock", "minstock", "安全库存", "最低库存"),
    "unit": ("unit", "单位", "计量单位"),
    "pack_barcode": ("packbarcode", "casebarcode", "箱码", "包装条码", "整箱条码"),
    "pack_quantity": ("packquantity", "packqty", "casequantity", "箱规", "包装数量", "装箱数"),
}
_FIELD_BY_HEADER = {spelling: field for field, spellings in HEADERS.items() for spelling in spellings}


def plain(text: str) -> str:
    """Full-width digits, letters and punctuation (３６０，１２．５０, the ideographic space) as ASCII.

    Only for codes, numbers and units: NFKC also rewrites characters a product
    name means as written (℃ becomes °C, ① becomes 1), so names are left alone.
    """
    return unicodedata.normalize("NFKC", text)


def _header_key(text: str) -> str:
    return re.sub(r"[\s_\-()（）/]+", "", plain(text)).lower()


def header_field(text: str) -> str | None:
    """The field a column header stands for, in English or Chinese; None if unknown."""
    return _split_header(text)[0]


def header_unit(text: str) -> str | None:
    """The unit a quantity or price header is written in, as in 售价（元/斤）: 斤; None when it names none."""
    return _split_header(text)[1]


def _split_header(text: str) -> tuple[str | None, str | None]:
    key = _header_key(text)
    if key in _FIELD_BY_HEADER:
        return _FIELD_BY_HEADER[key], None
    # Chinese price lists write the currency and unit into the header: 售价（元）, 零售价/元, 进价(元/斤).
    if (match := _WITH_UNIT.match(key)) and _FIELD_BY_HEADER.get(match["field"]) in _UNIT_FIELDS:
        return _FIELD_BY_HEADER[match["field"]], match["unit"]
    return None, None


# Units as Chinese catalogs write them: factor converts the row's prices and
# safety stock to the stored unit (a price per 斤 is half the price per kg).
UNITS: dict[str, tuple[str, Decimal]] = {
    **{
        word: (Unit.EACH, Decimal(1))
        for word in ("件", "个", "瓶", "袋", "盒", "包", "罐", "支", "each", "ea", "pc", "pcs", "piece")
    },
    **{word: (Unit.KG, Decimal(1)) for word in ("kg", "公斤", "千克")},
    "斤": (Unit.KG, Decimal("0.5")),
}


_UNIT_FIELDS = ("purchase_price", "selling_price", "safety_stock")
_UNIT_WORDS = "|".join(re.escape(word) for word in sorted(UNITS, key=len, reverse=True))
_WITH_UNIT = re.compile(rf"^(?P<field>.+?)(?:元|rmb|cny|¥|人民币)?(?:每?(?P<unit>{_UNIT_WORDS}))?$")


def parse_unit(text: str) -> tuple[str, Decimal]:
    """(stored unit, kg per written unit); 斤 is 0.5 kg."""
    try:
        return UNITS[plain(text).strip().lower()]
    except KeyError:
        raise CellError(
            _("Unknown unit %(unit)s: use 件/个/瓶/袋/盒 for pieces, kg/公斤 or 斤 for weighed goods.") % {"unit": text}
        ) from None


_SCIENTIFIC = re.compile(r"^\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_INTEGRAL_FLOAT = re.compile(r"^(\d+)\.0+$")


def parse_barcode(text: str, *, is_known: Callable[[str], bool] = lambda code: False) -> str:
    """The stored form of a barcode cell.

    Excel turns long numbers into 6.90123E+12 (digits lost: refused) and drops
    leading zeros. Leading zeros never change a GS1 check digit, so a short code
    with a valid check digit has one 13-digit reading, and an EAN-8 reading too
    when it has at most 7 digits; when both are possible, the one the catalog
    already has wins, otherwise the cell is refused as ambiguous.
    """
    code = plain(text).strip().replace(" ", "")
    if _SCIENTIFIC.match(code):
        raise CellError(
            _(
                "Barcode %(code)s is in scientific notation: the spreadsheet program rounded it and its digits "
                "are lost. Format the column as text and export the file again."
            )
            % {"code": code}
        )
    if integral := _INTEGRAL_FLOAT.match(code):
        code = integral.group(1)
    if code.isdigit() and len(code) < 12 and len(code) != 8 and not gtin.is_store_code(code):
        return _restore_leading_zeros(code, is_known)
    try:
        return gtin.normalize(code)
    except gtin.InvalidCode as exc:
        raise CellError(str(exc)) from None


def _restore_leading_zeros(code: str, is_known: Callable[[str], bool]) -> str:
    try:
        readings = [gtin.normalize(code.zfill(13))]
    except gtin.InvalidCode:
        raise CellError(
            _("Barcode %(code)s has %(n)d digits and no leading zeros restore it: the check digit is wrong.")
            % {"code": code, "n": len(code)}
        ) from None
    if len(code) < 8:
        readings.append(code.zfill(8))
        in_catalog = [reading for reading in readings if is_known(reading)]
        if len(in_catalog) != 1:
            raise CellError(
                _(
                    "Barcode %(code)s lost its leading zeros and could be EAN-8 %(ean8)s or EAN-13 %(ean13)s; "
                    "write the full barcode."
                )
                % {"code": code, "ean8": readings[1], "ean13": readings[0]}
            )
        return in_catalog[0]
    return readings[0]


_CURRENCY = re.compile(r"[¥￥$€\s]|RMB|CNY|元", re.IGNORECASE)
_THOUSANDS_COMMAS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")


def parse_decimal(text: str, *, places: int, max_digits: int, what: str) -> Decimal:
    """A non-negative amount written as 12.50, 12,50, ¥1,299.00, 1.299,00 or 1299.

    A comma followed by three-digit groups separates thousands; any other single
    comma is a decimal comma, as European retailer exports write it.
    """
    raw, text = text, plain(text)
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = _parse_written_amount(text)
    if value is None or not value.is_finite():
        raise CellError(_("%(what)s %(value)s is not a number.") % {"what": what, "value": raw})
    if value < 0:
        raise CellError(_("%(what)s %(value)s is negative.") % {"what": what, "value": raw})
    # Checked before quantize(): a cell of 28+ digits or 1e30 would make it
    # raise InvalidOperation (beyond the context's precision) instead of a message.
    if value > (limit := largest_amount(places=places, max_digits=max_digits)):
        raise AmountTooLarge(
            _("%(what)s %(value)s is too large: the largest allowed is %(limit)s.")
            % {"what": what, "value": raw, "limit": limit}
        )
    step = Decimal(1).scaleb(-places)
    if -value.as_tuple().exponent > places and value != value.quantize(step):
        raise CellError(
            _("%(what)s %(value)s has more than %(places)d decimal places.")
            % {"what": what, "value": raw, "places": places}
        )
    return value.quantize(step)


def largest_amount(*, places: int, max_digits: int) -> Decimal:
    """The largest value a DecimalField(max_digits, decimal_places=places) stores: 99999999.9999 for (12, 4)."""
    return Decimal(10) ** (max_digits - places) - Decimal(1).scaleb(-places)


def _parse_written_amount(text: str) -> Decimal | None:
    cleaned = _CURRENCY.sub("", text)
    if "," in cleaned and "." in cleaned:
        # Whichever separator comes last is the decimal point: 1,299.00 / 1.299,00.
        thousands = "," if cleaned.rfind(",") < cleaned.rfind(".") else "."
        cleaned = cleaned.replace(thousands, "").replace(",", ".")
    elif "," in cleaned:
        cleaned = cleaned.replace(",", "") if _THOUSANDS_COMMAS.match(cleaned) else cleaned.replace(",", ".")
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


def parse_pack_quantity(text: str) -> int:
    try:
        value = parse_decimal(text, places=0, max_digits=9, what=_("Pack quantity"))
    except AmountTooLarge:
        raise
    except CellError:
        value = None
    if value is None or value < 1:
        raise CellError(_("Pack quantity %(value)s is not a whole number of at least 1.") % {"value": text})
    return int(value)
