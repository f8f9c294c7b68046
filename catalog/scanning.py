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

from catalog import gtin
from catalog.selectors import InactiveProduct, Scan, UnknownCode, product_lookup


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


def checked_code(
    text: str, symbology: Symbology, allowed: frozenset[Symbology] = ALL_SYMBOLOGIES
) -> CheckedCode | None:
    """The stored form and true symbology of one raw engine result, or None if it cannot be trusted.

    Engines disagree on names (zbar calls a UPC-A an EAN-13 with a leading 0,
    zxing expands UPC-E to 13 digits), so retail codes are identified by their
    normalized GTIN: 13 digits with a leading 0 is a UPC-A.
    """
    text = text.strip()
    if not text or len(text) > MAX_TEXT_LENGTH or not text.isprintable():
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


def image_bytes_from_data_url(value: str) -> bytes:
    """The bytes of a base64 data URL (data:image/jpeg;base64,...), size-checked before decoding."""
    header, sep, payload = value.partition(",")
    if not sep or not header.startswith("data:image/") or not header.endswith(";base64"):
        raise ImageRejected(_("The image must be a file or a data URL of the form data:image/...;base64,..."))
    # Base64 carries 3 bytes in 4 characters: refuse by length before decoding.
    if len(payload) * 3 // 4 > settings.SCAN_MAX_BYTES:
        raise ImageTooLarge(too_many_bytes())
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageRejected(_("The data URL is not valid base64.")) from None


def too_many_bytes() -> str:
    return _("The image is larger than %(limit)d KB.") % {"limit": settings.SCAN_MAX_BYTES // 1024}


# Codes to products ------------------------------------------------------------------


@dataclass(frozen=True)
class ScannedCode:
    """A confirmed code and what the catalog makes of it; scan is None with a message when nothing sells under it."""

    code: Code
    scan: Scan | None
    message: str


def catalog_knows(code: str) -> bool:
    """Whether some product, active or not, carries code: one such read is trusted without a second."""
    try:
        product_lookup(code, include_inactive=True)
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
            scanned.append(ScannedCode(code=code, scan=product_lookup(code.code), message=""))
        except (gtin.InvalidCode, UnknownCode, InactiveProduct) as error:
            scanned.append(ScannedCode(code=code, scan=None, message=str(error)))
    return decoding, scanned
