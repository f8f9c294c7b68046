"""Camera and upload images to checked barcodes: the one place that reads pixels.

Imported lazily by catalog.scanning.scan_products (and by tests and bench/),
never at module level by views or other apps: cv2, numpy, Pillow, zbar and
zxing-cpp stay out of a process until it decodes an image.

Decoding is a cascade. zbar (pyzbar over Debian's libzbar0) reads the grayscale
image first (a webcam frame reduced to 640 px, see variants()); while no
product code is confirmed, the image is varied (upscaled, CLAHE,
sharpened, thresholded, cropped and deskewed around the region the gradients
point at, rotated) and each variant goes through zbar and zxing-cpp, which reads
much of what zbar misses. A wrong code is worse than none, so every read is
checked before it counts: only the symbologies asked for, the GS1 check digit
through catalog.gtin, no short EAN-8/UPC-E fragment of a longer code, and then
agreement (both engines, or one engine three times with no rival code) or a
code the catalog carries. A GS1-128 case label is compared in one form,
whichever engine read it (scanning.gs1_label_text). When an image holds
several codes, the product code comes first (scanning.preference).

Images are checked before they are decoded: the byte size, then the pixel
count from the header alone, against a limit for what decoding the format
costs (pixel_limit), so a small file that would inflate to gigabytes (a
decompression bomb) is refused without being decompressed.
"""

import io
import time
import warnings
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import zxingcpp
from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError
from pyzbar import pyzbar

from catalog.scanning import (
    ALL_SYMBOLOGIES,
    PRODUCT_SYMBOLOGIES,
    RETAIL,
    SHORT,
    ZBAR_SYMBOLS,
    Code,
    Decoding,
    ImageRejected,
    ImageTooLarge,
    Symbology,
    checked_code,
    preference,
    too_many_bytes,
)

ZXING_FORMATS = {
    zxingcpp.BarcodeFormat.EAN13: Symbology.EAN13,
    zxingcpp.BarcodeFormat.EAN8: Symbology.EAN8,
    zxingcpp.BarcodeFormat.UPCA: Symbology.UPCA,
    zxingcpp.BarcodeFormat.UPCE: Symbology.UPCE,
    zxingcpp.BarcodeFormat.Code128: Symbology.CODE128,
    zxingcpp.BarcodeFormat.QRCode: Symbology.QR,
}
_ZBAR_ENUM = {name: getattr(pyzbar.ZBarSymbol, name) for name in ZBAR_SYMBOLS}
# Below this width an image is a far or tiny code: its bars are a pixel or two wide.
SMALL_WIDTH = 500
# Frames larger than this on their long side are first read at this size (see variants()).
FIRST_PASS_SIDE = 640
# Once a code that names no product is confirmed in a frame or photo (the QR code beside a barcode), this many more
# variants look for one that does: enough for the crops around the two largest codes in a webcam frame.
LOOK_FURTHER_VARIANTS = 4
# What Pillow opens: the formats the message for any other file names, each with a known decoding cost (pixel_limit).
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")


# Loading -----------------------------------------------------------------------


def pixel_limit(image: Image.Image) -> int:
    """How many pixels an image may have, read from its header: what decoding its format costs, not one figure for all.

    A baseline JPEG is decoded straight at 1/2, 1/4 or 1/8 of its size (draft
    mode), so a 50 MP phone photo costs a few MB. Every other format is decoded
    whole first: PNG, BMP, GIF and a progressive JPEG (libjpeg keeps all its
    coefficients) at 3 to 5 bytes a pixel, WebP (Pillow decodes it through
    libwebp's animation decoder) at about 15. Measured in docs/PERFORMANCE.md.
    """
    if image.format == "JPEG" and not image.info.get("progressive"):
        return settings.SCAN_MAX_JPEG_PIXELS
    if image.format == "WEBP":
        return settings.SCAN_MAX_PIXELS // 4
    return settings.SCAN_MAX_PIXELS


def load_gray(data: bytes) -> np.ndarray:
    """Grayscale pixels of an image file; raise ImageRejected/ImageTooLarge saying why.

    The pixel limit for the format is checked on the header before any pixel
    is decompressed. Large photos are reduced to SCAN_WORK_SIDE on their long
    side: a barcode that fills a phone photo reads as well at a third of its
    size, ten times faster. Transparent pixels become white, the paper a code
    is printed on.
    """
    if not data:
        raise ImageRejected(_("The image is empty."))
    if len(data) > settings.SCAN_MAX_BYTES:
        raise ImageTooLarge(too_many_bytes())
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 million pixels on, which a JPEG may have (pixel_limit decides); past twice that
            # it raises DecompressionBombError, below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
        width, height = image.size
        limit = pixel_limit(image)
        if width * height > limit:
            raise ImageTooLarge(
                _("The image is %(w)d×%(h)d pixels; at most %(limit)s million pixels are accepted in %(format)s.")
                % {"w": width, "h": height, "limit": f"{limit / 1_000_000:g}", "format": image.format}
            )
        if image.format == "JPEG":
            # JPEG can decode at 1/2, 1/4 or 1/8 scale directly, far cheaper than full size then resize. The size asked
            # for keeps the aspect ratio: Pillow picks the largest reduction that stays above it on both sides.
            scale = min(1.0, settings.SCAN_WORK_SIDE / max(width, height))
            image.draft("L", (max(1, round(width * scale)), max(1, round(height * scale))))
        if image.has_transparency_data:
            # A code drawn on a transparent background has black behind it (what transparent pixels usually store)
            # unless it is laid on white paper. The full-colour image is let go before the paper is made.
            alpha = image.getchannel("A") if "A" in image.getbands() else image.convert("LA").getchannel("A")
            image = image.convert("L")
            paper = Image.new("L", image.size, 255)
            paper.paste(image, mask=alpha)
            image = paper
        else:
            image = image.convert("L")
    except ImageTooLarge:
        raise
    except Image.DecompressionBombError:
        # Pillow's own guard, hit by headers beyond its limits before ours can be read.
        raise ImageTooLarge(
            _("The image has more than %(limit)d million pixels.") % {"limit": 2 * Image.MAX_IMAGE_PIXELS // 1_000_000}
        ) from None
    except UnidentifiedImageError:
        raise ImageRejected(_("The file is not an image this service can read (JPEG, PNG, WebP, BMP, GIF).")) from None
    except (OSError, SyntaxError, ValueError):
        raise ImageRejected(_("The image file is damaged or truncated.")) from None
    gray = np.asarray(image)
    longest = max(gray.shape)
    if longest > settings.SCAN_WORK_SIDE:
        gray = scaled(gray, settings.SCAN_WORK_SIDE / longest, cv2.INTER_AREA)
    return np.ascontiguousarray(gray)


# Engines ------------------------------------------------------------------------


def zbar_reads(gray: np.ndarray, allowed: frozenset[Symbology]) -> list[tuple[str, Symbology]]:
    symbols = {_ZBAR_ENUM[name] for name, sym in ZBAR_SYMBOLS.items() if sym in allowed}
    if Symbology.UPCA in allowed:
        symbols.add(pyzbar.ZBarSymbol.EAN13)  # zbar reports some UPC-As as EAN-13 with a leading 0
    results = pyzbar.decode(gray, symbols=list(symbols))
    return [(r.data.decode("latin-1"), ZBAR_SYMBOLS[r.type]) for r in results if r.type in ZBAR_SYMBOLS]


def zxing_reads(gray: np.ndarray, allowed: frozenset[Symbology]) -> list[tuple[str, Symbology]]:
    formats = [fmt for fmt, sym in ZXING_FORMATS.items() if sym in allowed]
    if Symbology.UPCA in allowed:
        formats.append(zxingcpp.BarcodeFormat.EAN13)
    results = zxingcpp.read_barcodes(gray, formats=tuple(set(formats)), try_downscale=True)
    return [(r.text, ZXING_FORMATS[r.format]) for r in results if r.valid and r.format in ZXING_FORMATS]


ENGINES: dict[str, Callable[[np.ndarray, frozenset[Symbology]], list[tuple[str, Symbology]]]] = {
    "zbar": zbar_reads,
    "zxing": zxing_reads,
}


# Variants ------------------------------------------------------------------------


def scaled(gray: np.ndarray, factor: float, interpolation: int) -> np.ndarray:
    """The image resized by factor. Sizes given, not factors: a strip of an image (1 × 5,000 pixels) keeps at least
    one pixel across, where OpenCV would round it to none and fail."""
    height, width = (max(1, round(side * factor)) for side in gray.shape)
    return cv2.resize(gray, (width, height), interpolation=interpolation)


def _upscale(gray: np.ndarray, factor: float) -> np.ndarray:
    # Lanczos keeps the sub-pixel edge information of bars narrower than two pixels; cubic blurs it away.
    return scaled(gray, factor, cv2.INTER_LANCZOS4)


def _sharpen(gray: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    """Unsharp mask: undoes part of a focus or motion blur of about sigma pixels."""
    blurred = cv2.GaussianBlur(gray, (0, 0), sigma)
    return cv2.addWeighted(gray, 1 + amount, blurred, -amount, 0)


def _clahe(gray: np.ndarray) -> np.ndarray:
    return cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(gray)


def _threshold(gray: np.ndarray) -> np.ndarray:
    block = max(15, (min(gray.shape) // 8) | 1)
    return cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 5)


def rotate(gray: np.ndarray, degrees: float) -> np.ndarray:
    """The whole image turned by degrees (counter-clockwise), the canvas grown to keep the corners, white fill."""
    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    matrix[0, 2] += nw / 2 - w / 2
    matrix[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(gray, matrix, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=255)


def barcode_regions(gray: np.ndarray, limit: int = 2) -> list[np.ndarray]:
    """Deskewed crops around the areas dense in strong, parallel edges (bars), largest first.

    Finds what a small code in a wide frame or a rotated one looks like to the
    gradients, so the engines get the code large, level and without clutter.
    """
    h, w = gray.shape
    scale = min(1.0, 640 / max(h, w))
    small = scaled(gray, scale, cv2.INTER_AREA) if scale < 1 else gray
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.convertScaleAbs(cv2.magnitude(gx, gy))
    blurred = cv2.blur(magnitude, (9, 9))
    _, mask = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15)))
    mask = cv2.erode(mask, None, iterations=2)
    mask = cv2.dilate(mask, None, iterations=2)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    crops = []
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:limit]:
        if cv2.contourArea(contour) < 0.002 * small.size:
            break
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
        cx, cy, rw, rh = cx / scale, cy / scale, rw / scale, rh / scale
        if rw < rh:
            rw, rh, angle = rh, rw, angle - 90
        # A generous margin: the quiet zone and the bars' ends are where the mask is weakest.
        rw, rh = rw * 1.3 + 20, rh * 1.3 + 20
        matrix = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
        matrix[0, 2] += rw / 2 - cx
        matrix[1, 2] += rh / 2 - cy
        crop = cv2.warpAffine(gray, matrix, (int(rw), int(rh)), flags=cv2.INTER_CUBIC, borderValue=255)
        if crop.shape[1] < 400:
            crop = _upscale(crop, 600 / crop.shape[1])
        crops.append(crop)
    return crops


def _region_variants(gray: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    for i, crop in enumerate(barcode_regions(gray)):
        yield f"region{i}", crop
        yield f"region{i}-sharpened", _sharpen(crop, 2, 1.5)


def variants(gray: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """Image variants in the order that pays: cheap and likely first, rotations last."""
    longest = max(gray.shape)
    large = longest > FIRST_PASS_SIDE
    if large:
        # A webcam frame at about half size first: area averaging removes sensor noise that
        # makes zbar slow and blind, and a code large enough to matter still has 2+ pixels a bar.
        scale = FIRST_PASS_SIDE / longest
        yield "reduced", scaled(gray, scale, cv2.INTER_AREA)
        # Then the code's own crop at full resolution: a fraction of the frame to scan, level and enlarged.
        yield from _region_variants(gray)
    yield "gray", gray
    small = gray.shape[1] < SMALL_WIDTH
    if small:
        # Bars one or two pixels wide: enlarge first, then sharpen at the enlarged scale.
        up3 = _upscale(gray, 3)
        yield "upscaled", up3
        sharpened = _sharpen(up3, 2, 1)
        yield "upscaled-sharpened", sharpened
        yield "upscaled-sharpened-otsu", cv2.threshold(sharpened, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
        yield "upscaled-sharpened-wide", _sharpen(up3, 3, 1.5)
        yield "upscaled2-sharpened", _sharpen(_upscale(gray, 2), 4, 3)
        yield "upscaled4-sharpened", _sharpen(_upscale(gray, 4), 4, 1.5)
    if not large:
        yield from _region_variants(gray)
    base = _upscale(gray, 2) if small else gray
    yield "sharpened", _sharpen(base, 2, 1.5)
    yield "sharpened-strong", _sharpen(base, 3, 3)
    yield "clahe", _clahe(base)
    yield "threshold", _threshold(base)
    for degrees in (15, -15, 30, -30):
        yield f"rotated{degrees}", rotate(base, degrees)


# The cascade ----------------------------------------------------------------------


def decode_gray(
    gray: np.ndarray,
    *,
    allowed: frozenset[Symbology] = ALL_SYMBOLOGIES,
    is_known: Callable[[str], bool] | None = None,
    budget_ms: float | None = None,
) -> tuple[list[Code], int]:
    """Run the cascade on grayscale pixels until a product code is confirmed or the CPU time budget is spent.

    What confirms a code is in _confirmed(); one read of a code is_known says
    the catalog carries is enough. In a frame or photo, a confirmed code that
    names no product (a QR code, a Code 128 the catalog does not carry) does
    not end the search at once: LOOK_FURTHER_VARIANTS more variants look for
    the barcode beside it.
    Returns the confirmed codes, the one meant first (scanning.preference),
    and how many variants were tried.
    """
    budget_ms = settings.SCAN_TIME_BUDGET_MS if budget_ms is None else budget_ms
    # This thread's CPU time, not the wall clock: on a busy server the same image gets the
    # same cascade, instead of fewer variants exactly when the machine is loaded.
    started = time.thread_time()
    reads: dict[tuple[str, Symbology], set[tuple[str, str]]] = {}
    known: dict[str, bool] = {}
    tried = 0
    confirmed: list[Code] = []
    # A QR code beside the barcode is a thing of frames and photos of a pack; an image the size of one code holds
    # one (and its later variants, enlarged, are the costly ones). Asked for QR codes only, any code is the answer.
    look_further = max(gray.shape) > FIRST_PASS_SIDE and bool(allowed & PRODUCT_SYMBOLOGIES)
    stop_after: int | None = None
    for name, image in variants(gray):
        tried += 1
        for engine, read in ENGINES.items():
            for text, symbology in read(image, allowed):
                checked = checked_code(text, symbology, allowed)
                if checked is None:
                    continue
                reads.setdefault((checked.code, checked.symbology), set()).add((name, engine))
                if is_known is not None and checked.code not in known:
                    known[checked.code] = is_known(checked.code)
            confirmed = _confirmed(reads, known)
            if confirmed and (not look_further or any(_names_a_product(code) for code in confirmed)):
                return confirmed, tried
        if confirmed and stop_after is None:
            stop_after = tried + LOOK_FURTHER_VARIANTS
        if tried == stop_after or (time.thread_time() - started) * 1000 > budget_ms:
            break
    return confirmed, tried


def _names_a_product(code: Code) -> bool:
    return code.known or preference(code.code, code.symbology) <= 1


def _family(symbology: Symbology) -> str:
    # Retail symbologies misread as one another (an EAN-13 as a UPC-E), so they compete as one family.
    return "retail" if symbology in RETAIL else symbology.value


def _confirmed(reads: dict[tuple[str, Symbology], set[tuple[str, str]]], known: dict[str, bool]) -> list[Code]:
    """The codes the reads so far make trustworthy, the one meant first (scanning.preference), then by reads.

    zbar and zxing misread differently, so the two engines agreeing is strong
    evidence. One engine on variants of the same image repeats its own
    misreads, even past the check digit, so alone it needs three agreeing
    reads and no rival code in the family. With a rival, only two engines and
    more reads than every rival will do.
    """
    long_read = any(symbology in RETAIL - SHORT for _, symbology in reads)
    candidates = {key: sources for key, sources in reads.items() if not (long_read and key[1] in SHORT)}
    codes = []
    for (code, symbology), sources in candidates.items():
        engines = {engine for _, engine in sources}
        rivals = [
            other
            for (other_code, other_symbology), other in candidates.items()
            if other_code != code and _family(other_symbology) == _family(symbology)
        ]
        agreed = (len(engines) >= 2 and all(len(sources) > len(other) for other in rivals)) or (
            len(sources) >= 3 and not rivals
        )
        if agreed or known.get(code):
            codes.append(Code(code=code, symbology=symbology, reads=len(sources), known=bool(known.get(code))))
    return sorted(codes, key=lambda c: (preference(c.code, c.symbology), not c.known, -c.reads))


def decode_image(
    data: bytes,
    *,
    allowed: frozenset[Symbology] = ALL_SYMBOLOGIES,
    is_known: Callable[[str], bool] | None = None,
) -> Decoding:
    """Checked codes in an image file; raises ImageRejected or ImageTooLarge before decoding a bad one."""
    started = time.perf_counter()
    gray = load_gray(data)
    codes, tried = decode_gray(gray, allowed=allowed, is_known=is_known)
    return Decoding(codes=codes, elapsed_ms=(time.perf_counter() - started) * 1000, variants_tried=tried)
