"""Barcode reads to checked codes, and checked codes to products: the light half of camera scanning.

What views and other apps need (the symbologies, the checks one engine result
must pass, the data-URL and size limits, the errors, the result types and
scan_products) lives here and imports no image library. The pixels are read
in catalog.decoding (OpenCV, numpy, Pillow, zbar, zxing-cpp, about 30 MB in
every process that imports them), which scan_products imports only when an
image is actually scanned, so a web worker that never decodes one never loads
them.
"""

import base64
import binascii
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.utils.translation import gettext as _

from catalog import gs1, gtin
from catalog.selectors import InactiveProduct, Scan, UnknownCode, case_label_lookup, product_lookup


class Symbology(StrEnum):
    EAN13 = "EAN-13"
    EAN8 = "EAN-8"
    UPCA = "UPC-A"
    UPCE = "UPC-E"
    CODE128 = "Code 128"
    QR = "QR"


ALL_SYMBOLOGIES = frozenset(Symbology)

# Symbologies whose text is a GTIN checked by its mod-10 digit. EAN-8 and UPC-E
# are the short ones a steep or partly hidden EAN-13 is misread as.
RETAIL = frozenset({Symbology.EAN13, Symbology.EAN8, Symbology.UPCA, Symbology.UPCE})
SHORT = frozenset({Symbology.EAN8, Symbology.UPCE})
# Symbologies that carry a product code: an EAN/UPC, or a GS1-128 case label (a Code 128).
PRODUCT_SYMBOLOGIES = RETAIL | {Symbology.CODE128}

ZBAR_SYMBOLS = {
    "EAN13": Symbology.EAN13,
    "EAN8": Symbology.EAN8,
    "UPCA": Symbology.UPCA,
    "UPCE": Symbology.UPCE,
    "CODE128": Symbology.CODE128,
    "QRCODE": Symbology.QR,
}
MAX_TEXT_LENGTH = 200


class ImageRejected(ValueError):
    """Not an image this service will decode: the message says why."""

    status = 400


class ImageTooLarge(ImageRejected):
    status = 413


@dataclass(frozen=True)
class CheckedCode:
    """One engine result that passed the checks: the stored form of the code and its true symbology."""

    code: str
    symbology: Symbology


@dataclass(frozen=True)
class Code:
    code: str
    symbology: Symbology
    reads: int
    known: bool


@dataclass(frozen=True)
class Decoding:
    codes: list[Code]
    elapsed_ms: float
    variants_tried: int


def upc_e_to_upc_a(code: str) -> str:
    """Expand an 8-digit UPC-E (number system, six digits, check) to its 12-digit UPC-A."""
    system, d, check = code[0], code[1:7], code[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return system + body + check


def gs1_label_text(text: str) -> str | None:
    """A GS1-128 case label in its printed form, (01)09501101530003(17)301231(10)ABC123, or None if it is no valid label.

    zbar returns the label raw (0109501101530003…, variable-length fields
    ended by the GS character), zxing-cpp in the printed form: both become the
    printed form, with the Application Identifiers in their order on the label,
    so that two readings of one label agree. The printed form is also what the
    receiving and counting pages accept typed (catalog.gs1), without a control
    character that a text input would not keep. A label that catalog.gs1 cannot
    read (a GTIN check digit off, a month 13) is a misread.
    """
    try:
        gs1.parse(text)
        return "".join(f"({ai}){value}" for ai, value in gs1.fields(text))
    except gs1.InvalidLabel:
        return None


def _holds_gs1_label(text: str) -> bool:
    # zbar drops the FNC1 that marks a GS1-128 symbol, and catalog.gs1 takes 16 digits for a mistyped code rather than
    # a label; but a Code 128 of (01) and a GTIN-14 alone, as zbar returns it, is a label.
    return gs1.looks_like_label(text) or (len(text) == 16 and text.startswith("01") and text.isdigit())


def is_case_label(code: str, symbology: Symbology) -> bool:
    """Whether a checked code is a GS1-128 case label (checked_code keeps labels in the printed form)."""
    return symbology is Symbology.CODE128 and code.startswith("(")


def preference(code: str, symbology: Symbology) -> int:
    """Rank of a code among several in one image, lowest first: the one a clerk points the camera at.

    Packaging carries more than the product barcode (a WeChat or shop QR code
    beside it, on Chinese goods very often); a case carries its GS1-128 label,
    which says more than its EAN (lot, expiry, count).
    """
    if is_case_label(code, symbology):
        return 0
    if symbology in RETAIL:
        return 1
    return 2 if symbology is Symbology.CODE128 else 3


def checked_code(
    text: str, symbology: Symbology, allowed: frozenset[Symbology] = ALL_SYMBOLOGIES
) -> CheckedCode | None:
    """The stored form and true symbology of one raw engine result, or None if it cannot be trusted.

    Engines disagree on names (zbar calls a UPC-A an EAN-13 with a leading 0,
    zxing expands UPC-E to 13 digits), so retail codes are identified by their
    normalized GTIN: 13 digits with a leading 0 is a UPC-A. A Code 128 that is
    a GS1-128 label comes back in the printed form (gs1_label_text), whichever
    engine read it and however it separated the fields.
    """
    text = text.strip()
    if not text or len(text) > MAX_TEXT_LENGTH:
        return None
    if symbology is Symbology.CODE128 and _holds_gs1_label(text):
        text = gs1_label_text(text)
        if text is None:
            return None
    if not text.isprintable():
        return None
    if symbology in RETAIL:
        if not text.isdigit():
            return None
        if symbology is Symbology.UPCE:
            if len(text) == 8:
                if text[0] not in "01":
                    return None
                text = upc_e_to_upc_a(text)
            elif len(text) not in (12, 13):
                return None
        elif len(text) != {Symbology.EAN13: 13, Symbology.EAN8: 8, Symbology.UPCA: 12}[symbology] and not (
            symbology is Symbology.UPCA and len(text) == 13 and text[0] == "0"
        ):
            return None
        try:
            code = gtin.normalize(text)
        except gtin.InvalidCode:
            return None
        if symbology is Symbology.EAN13 and code.startswith("0"):
            symbology = Symbology.UPCA
        if symbology not in allowed:
            return None
        return CheckedCode(code=code, symbology=symbology)
    if symbology not in allowed:
        return None
    return CheckedCode(code=text, symbology=symbology)


# Image bytes and limits -----------------------------------------------------------


# What a data URL's form carries besides the image's base64: the data:image/...;base64, header, field names, symbologies.
DATA_URL_ENVELOPE_BYTES = 1024


def data_url_max_bytes() -> int:
    """The largest image a data URL can carry.

    A data URL is a form field, and Django holds form fields in memory up to
    DATA_UPLOAD_MAX_MEMORY_SIZE, a limit for every view (2.5 MB, which keeps
    JSON API bodies small); base64 takes 4 characters for 3 bytes. So a data
    URL carries about 1.9 MB of image, less than SCAN_MAX_BYTES: a larger photo
    comes as a file, which goes through the scan view's own upload handler.
    """
    form_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if form_limit is None:
        return settings.SCAN_MAX_BYTES
    return min(settings.SCAN_MAX_BYTES, (form_limit - DATA_URL_ENVELOPE_BYTES) * 3 // 4)


def image_bytes_from_data_url(value: str) -> bytes:
    """The bytes of a base64 data URL (data:image/jpeg;base64,...), size-checked before decoding."""
    header, sep, payload = value.partition(",")
    if not sep or not header.startswith("data:image/") or not header.endswith(";base64"):
        raise ImageRejected(_("The image must be a file or a data URL of the form data:image/...;base64,..."))
    # Base64 carries 3 bytes in 4 characters (less the padding): refuse by length before decoding.
    if len(payload) * 3 // 4 - payload[-2:].count("=") > data_url_max_bytes():
        raise ImageTooLarge(too_many_bytes_in_data_url())
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageRejected(_("The data URL is not valid base64.")) from None


def too_many_bytes() -> str:
    return _("The image is larger than %(limit)d KB.") % {"limit": settings.SCAN_MAX_BYTES // 1024}


def too_many_bytes_in_data_url() -> str:
    return _(
        "An image sent as a data URL can have at most %(limit)d KB; send a larger one as a file (at most %(max)d KB)."
    ) % {
        "limit": data_url_max_bytes() // 1024,
        "max": settings.SCAN_MAX_BYTES // 1024,
    }


# Codes to products ------------------------------------------------------------------


@dataclass(frozen=True)
class ScannedCode:
    """A confirmed code and what the catalog makes of it; scan is None with a message when nothing sells under it."""

    code: Code
    scan: Scan | None
    message: str


def code_lookup(code: str, *, include_inactive: bool = False) -> Scan:
    """product_lookup for a checked code; a GS1-128 case label resolves through its GTIN to what it holds, as typed.

    Raises what product_lookup raises (gtin.InvalidCode, UnknownCode, InactiveProduct).
    """
    if not gs1.looks_like_label(code):
        return product_lookup(code, include_inactive=include_inactive)
    try:
        label = gs1.parse(code)
    except gs1.InvalidLabel as error:  # a QR code's text, say: checked_code parsed every Code 128 label already
        raise gtin.InvalidCode(str(error)) from None
    return case_label_lookup(label, include_inactive=include_inactive)


def catalog_knows(code: str) -> bool:
    """Whether some product, active or not, carries code: one such read is trusted without a second."""
    try:
        code_lookup(code, include_inactive=True)
    except (gtin.InvalidCode, UnknownCode):
        return False
    return True


def scan_products(
    data: bytes, *, allowed: frozenset[Symbology] = ALL_SYMBOLOGIES
) -> tuple[Decoding, list[ScannedCode]]:
    """Decode an image and resolve each confirmed code as a typed scan would be.

    Raises ImageRejected / ImageTooLarge for a file that is not decoded at all.
    Reads only: the caller decides what a scan does (sell, receive, count).
    """
    # Imported here, not at the top: the image libraries cost every web worker tens of MB
    # and only this call needs them (see the module docstring).
    from catalog.decoding import decode_image

    decoding = decode_image(data, allowed=allowed, is_known=catalog_knows)
    scanned = []
    for code in decoding.codes:
        try:
            scanned.append(ScannedCode(code=code, scan=code_lookup(code.code), message=""))
        except (gtin.InvalidCode, UnknownCode, InactiveProduct) as error:
            scanned.append(ScannedCode(code=code, scan=None, message=str(error)))
    return decoding, scanned
