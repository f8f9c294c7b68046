import io
import struct
import time
import zlib
from functools import lru_cache

import cv2
import numpy as np
import pytest
import zxingcpp
from barcode import get as barcode_get
from barcode.writer import ImageWriter
from django.test import override_settings
from PIL import Image

from catalog import gs1, gtin, scanning
from catalog.decoding import decode_gray, decode_image, load_gray, rotate
from catalog.scanning import (
    ImageRejected,
    ImageTooLarge,
    Symbology,
    checked_code,
    upc_e_to_upc_a,
)

# Printed content and stored form of one code per symbology.
SAMPLES = {
    Symbology.EAN13: ("6901234567892", "6901234567892"),
    Symbology.EAN8: ("96385074", "96385074"),
    Symbology.UPCA: ("036000291452", "0036000291452"),
    Symbology.UPCE: ("04252614", "0042100005264"),
    Symbology.CODE128: ("26111700", "26111700"),
    Symbology.QR: ("https://shop.example.cn/p/6901234567892", "https://shop.example.cn/p/6901234567892"),
}
PYTHON_BARCODE = {
    Symbology.EAN13: "ean13",
    Symbology.EAN8: "ean8",
    Symbology.UPCA: "upca",
    Symbology.CODE128: "code128",
}


def render_code(symbology: Symbology, printed: str) -> np.ndarray:
    """A clean grayscale label: python-barcode for the linear codes it has, zxing-cpp's writer for UPC-E and QR."""
    if symbology in PYTHON_BARCODE:
        content = printed[:-1] if symbology in scanning.RETAIL else printed
        buffer = io.BytesIO()
        barcode_get(PYTHON_BARCODE[symbology], content, writer=ImageWriter()).write(
            buffer, options={"module_width": 0.33, "module_height": 12, "quiet_zone": 3, "dpi": 300}
        )
        gray = np.asarray(Image.open(buffer).convert("L"))
    else:
        fmt = zxingcpp.BarcodeFormat.UPCE if symbology is Symbology.UPCE else zxingcpp.BarcodeFormat.QRCode
        gray = np.asarray(zxingcpp.write_barcode_to_image(zxingcpp.create_barcode(printed, fmt), scale=4))
    return cv2.copyMakeBorder(gray, 30, 30, 30, 30, cv2.BORDER_CONSTANT, value=255)


def render_gs1_128(data: str) -> np.ndarray:
    """A GS1-128 case label: data is the raw label (AIs and values, GS after a variable-length field not last)."""
    buffer = io.BytesIO()
    barcode_get("gs1_128", data, writer=ImageWriter()).write(
        buffer, options={"module_width": 0.33, "module_height": 12, "quiet_zone": 3, "dpi": 300, "write_text": False}
    )
    gray = np.asarray(Image.open(buffer).convert("L"))
    return cv2.copyMakeBorder(gray, 30, 30, 30, 30, cv2.BORDER_CONSTANT, value=255)


def side_by_side(*images: np.ndarray, gap: int = 60) -> np.ndarray:
    height = max(image.shape[0] for image in images)
    padded = [
        cv2.copyMakeBorder(image, 0, height - image.shape[0], 0, gap, cv2.BORDER_CONSTANT, value=255)
        for image in images
    ]
    return np.hstack(padded)


def png(image: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image, mode).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(gray: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, 88])[1].tobytes()


def in_frame(gray: np.ndarray, width: int = 300) -> np.ndarray:
    label = cv2.resize(gray, None, fx=width / gray.shape[1], fy=width / gray.shape[1], interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(3).integers(60, 190, (90, 160)).astype(np.uint8)
    frame = cv2.resize(cv2.GaussianBlur(noise, (5, 5), 0), (1280, 720), interpolation=cv2.INTER_CUBIC)
    frame[400 : 400 + label.shape[0], 700 : 700 + label.shape[1]] = label
    return frame


def downscaled(gray: np.ndarray, width: int = 100) -> np.ndarray:
    ys, xs = np.nonzero(gray < 128)
    crop = gray[ys.min() - 3 : ys.max() + 4, xs.min() - 3 : xs.max() + 4]
    return cv2.resize(crop, (width, round(crop.shape[0] * width / crop.shape[1])), interpolation=cv2.INTER_AREA)


DEGRADATIONS = {
    "rotated 25°": lambda g: rotate(g, 25),
    "gaussian blur": lambda g: cv2.GaussianBlur(g, (0, 0), 1.8),
    "small in a 1280x720 frame": in_frame,
    "downscaled to 100 px": downscaled,
}


def ean13_pattern(digits: str) -> np.ndarray:
    """Bars of an EAN-13 drawn from the standard's tables, whatever its last digit: no writer would draw a wrong one."""
    left = [
        "0001101",
        "0011001",
        "0010011",
        "0111101",
        "0100011",
        "0110001",
        "0101111",
        "0111011",
        "0110111",
        "0001011",
    ]
    right = ["".join("1" if b == "0" else "0" for b in code) for code in left]
    even = [code[::-1] for code in right]
    parity = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"]
    bits = "101"
    for digit, kind in zip(digits[1:7], parity[int(digits[0])], strict=True):
        bits += (left if kind == "L" else even)[int(digit)]
    bits += "01010" + "".join(right[int(d)] for d in digits[7:]) + "101"
    row = np.array([0 if b == "1" else 255 for b in bits], np.uint8).repeat(4)
    return cv2.copyMakeBorder(np.tile(row, (160, 1)), 30, 30, 60, 60, cv2.BORDER_CONSTANT, value=255)


@pytest.mark.parametrize("symbology", list(Symbology), ids=lambda s: s.name)
def test_clean_image_of_each_symbology_decodes_to_its_stored_form(symbology):
    printed, stored = SAMPLES[symbology]
    decoding = decode_image(jpeg(render_code(symbology, printed)))
    assert [(c.code, c.symbology) for c in decoding.codes] == [(stored, symbology)]
    assert decoding.codes[0].reads >= 2


@pytest.mark.parametrize("degradation", list(DEGRADATIONS))
@pytest.mark.parametrize("symbology", list(Symbology), ids=lambda s: s.name)
def test_degraded_image_of_each_symbology_decodes(symbology, degradation):
    printed, stored = SAMPLES[symbology]
    image = DEGRADATIONS[degradation](render_code(symbology, printed))
    assert [c.code for c in decode_image(jpeg(image)).codes] == [stored]


def test_image_without_a_code_gives_no_codes():
    noise = np.random.default_rng(1).integers(0, 255, (480, 640)).astype(np.uint8)
    assert decode_image(jpeg(cv2.GaussianBlur(noise, (7, 7), 0))).codes == []


def test_ean13_with_a_wrong_check_digit_is_not_returned():
    good = gtin.with_check_digit("690123456789")
    wrong = good[:-1] + str((int(good[-1]) + 3) % 10)
    # The hand-drawn symbol is readable: with the right check digit it decodes.
    assert [c.code for c in decode_image(jpeg(ean13_pattern(good))).codes] == [good]
    assert decode_image(jpeg(ean13_pattern(wrong))).codes == []


def test_wrong_check_digit_from_an_engine_is_rejected():
    assert checked_code("6901234567892", Symbology.EAN13) is not None
    assert checked_code("6901234567893", Symbology.EAN13) is None
    assert checked_code("96385075", Symbology.EAN8) is None
    assert checked_code("04252615", Symbology.UPCE) is None


def test_engine_result_of_an_unexpected_length_or_symbology_is_rejected():
    assert checked_code("96385074", Symbology.EAN13) is None  # an EAN-8 is not an EAN-13
    assert checked_code("6901234567892", Symbology.EAN8) is None
    assert checked_code("6901234567892", Symbology.EAN13, frozenset({Symbology.EAN8})) is None
    assert checked_code("69012345678A", Symbology.EAN13) is None
    assert checked_code("LOT1", Symbology.CODE128, frozenset({Symbology.QR})) is None


def test_upc_e_expands_to_its_upc_a():
    assert upc_e_to_upc_a("04252614") == "042100005264"
    assert upc_e_to_upc_a("01234565") == "012345000065"
    assert checked_code("04252614", Symbology.UPCE).code == "0042100005264"


def test_ean13_with_leading_zero_is_reported_as_upc_a():
    read = checked_code("0036000291452", Symbology.EAN13)
    assert (read.code, read.symbology) == ("0036000291452", Symbology.UPCA)


X, Y = "6901234567892", "6901234567885"  # two valid EAN-13s
BLANK = np.full((200, 300), 255, np.uint8)


def _engines(monkeypatch, zbar=(), zxing=()):
    """Replace the engines: each returns its scripted results, one list per variant, then nothing."""
    scripts = {"zbar": iter(zbar), "zxing": iter(zxing)}
    engines = {
        name: (lambda image, allowed, it=it: [(code, Symbology.EAN13) for code in next(it, [])])
        for name, it in scripts.items()
    }
    monkeypatch.setattr("catalog.decoding.ENGINES", engines)


def test_a_single_read_is_not_trusted(monkeypatch):
    _engines(monkeypatch, zbar=[[X]])
    assert decode_gray(BLANK)[0] == []


def test_two_engines_agreeing_confirm_a_code_at_once(monkeypatch):
    _engines(monkeypatch, zbar=[[X]], zxing=[[X]])
    codes, tried = decode_gray(BLANK)
    assert [(c.code, c.reads) for c in codes] == [(X, 2)] and tried == 1


def test_one_engine_alone_needs_three_agreeing_reads(monkeypatch):
    _engines(monkeypatch, zbar=[[X], [X]])
    assert decode_gray(BLANK)[0] == []
    _engines(monkeypatch, zbar=[[X], [], [X], [X]])
    codes, tried = decode_gray(BLANK)
    assert [(c.code, c.reads) for c in codes] == [(X, 3)] and tried == 4


def test_a_rival_read_stops_one_engine_from_confirming_alone(monkeypatch):
    # zbar repeating a misread three times is not enough once zxing has read something else.
    _engines(monkeypatch, zbar=[[X], [X], [X], [X]], zxing=[[Y]])
    assert decode_gray(BLANK)[0] == []


def test_with_a_rival_both_engines_and_more_reads_win(monkeypatch):
    _engines(monkeypatch, zbar=[[X], [X]], zxing=[[Y], [X]])
    assert [c.code for c in decode_gray(BLANK)[0]] == [X]


def test_a_single_read_of_a_code_the_catalog_carries_is_trusted(monkeypatch):
    _engines(monkeypatch, zbar=[[X]])
    codes, tried = decode_gray(BLANK, is_known={X}.__contains__)
    assert [(c.code, c.known) for c in codes] == [(X, True)] and tried == 1


def test_short_fragment_of_a_long_code_is_dropped(monkeypatch):
    both = [(X, Symbology.EAN13), ("96385074", Symbology.EAN8)]
    monkeypatch.setattr(
        "catalog.decoding.ENGINES", {"zbar": lambda image, allowed: both, "zxing": lambda image, allowed: both}
    )
    codes, _ = decode_gray(BLANK)
    assert [c.code for c in codes] == [X]


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
    )


@lru_cache(maxsize=1)
def decompression_bomb(side: int = 8000) -> bytes:
    """A real PNG of side×side white pixels: tens of megapixels in a few tens of kilobytes."""
    buffer = io.BytesIO()
    Image.new("L", (side, side), 255).save(buffer, "PNG")
    return buffer.getvalue()


def test_decompression_bomb_is_refused_from_its_header_quickly():
    bomb = decompression_bomb()
    assert len(bomb) < 200_000
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge, match="8000×8000"):
        decode_image(bomb)
    # Decoding 64 million pixels takes far longer than this; reading the header does not.
    assert time.perf_counter() - started < 0.05


def test_header_claiming_billions_of_pixels_is_refused():
    with pytest.raises(ImageTooLarge):
        decode_image(_png_header_only(100_000, 100_000))


@override_settings(SCAN_MAX_BYTES=10_000)
def test_file_over_the_byte_limit_is_refused_before_opening():
    with pytest.raises(ImageTooLarge, match="9 KB"):
        decode_image(b"\xff\xd8" + b"\0" * 10_000)


def test_non_image_and_truncated_image_are_rejected_with_reasons():
    with pytest.raises(ImageRejected, match="not an image"):
        decode_image(b"name,price\nmilk,4.50\n")
    whole = jpeg(render_code(Symbology.EAN13, SAMPLES[Symbology.EAN13][0]))
    with pytest.raises(ImageRejected, match="damaged or truncated"):
        decode_image(whole[: len(whole) // 2])
    with pytest.raises(ImageRejected, match="empty"):
        decode_image(b"")


@override_settings(SCAN_WORK_SIDE=1600)
def test_large_phone_photo_is_reduced_and_still_decodes():
    printed, stored = SAMPLES[Symbology.EAN13]
    label = cv2.resize(render_code(Symbology.EAN13, printed), None, fx=5, fy=5, interpolation=cv2.INTER_CUBIC)
    photo = np.full((3000, 4000), 200, np.uint8)
    photo[500 : 500 + label.shape[0], 800 : 800 + label.shape[1]] = label
    assert max(load_gray(jpeg(photo)).shape) == 1600
    assert [c.code for c in decode_image(jpeg(photo)).codes] == [stored]


@pytest.mark.parametrize("shape", [(1, 5000), (5000, 1), (3, 10000)])
def test_a_strip_of_an_image_is_reduced_to_at_least_a_pixel_across(shape):
    strip = io.BytesIO()
    Image.new("L", shape[::-1], 255).save(strip, format="PNG")
    assert min(load_gray(strip.getvalue()).shape) == 1
    assert decode_image(strip.getvalue()).codes == []


def test_code_128_with_letters_keeps_its_text():
    decoding = decode_image(jpeg(render_code(Symbology.CODE128, "LOT-2026/117")))
    assert [(c.code, c.symbology) for c in decoding.codes] == [("LOT-2026/117", Symbology.CODE128)]


# GS1-128 case labels ---------------------------------------------------------------

LABELS = {
    "GTIN only": ("0109501101530003", "(01)09501101530003"),
    "GTIN, expiry, lot": ("01095011015300031730123110ABC123", "(01)09501101530003(17)301231(10)ABC123"),
    "lot before expiry, GS between": (
        "010950110153000310ABC123" + gs1.GS + "17301231",
        "(01)09501101530003(10)ABC123(17)301231",
    ),
    "items inside and count": ("0209501101530003173012313712", "(02)09501101530003(17)301231(37)12"),
}


@pytest.mark.parametrize("label", list(LABELS))
def test_a_gs1_128_case_label_is_confirmed_by_both_engines(label):
    raw, printed = LABELS[label]
    decoding = decode_image(png(render_gs1_128(raw)))
    assert [(c.code, c.symbology) for c in decoding.codes] == [(printed, Symbology.CODE128)]
    assert decoding.variants_tried <= 2


@pytest.mark.parametrize(
    "zbar, zxing",
    [
        ("0109501101530003", "(01)09501101530003"),
        ("01095011015300031730123110ABC123", "(01)09501101530003(17)301231(10)ABC123"),
        ("010950110153000310ABC123\x1d17301231", "(01)09501101530003(10)ABC123(17)301231"),
        ("]C10109501101530003\x1d", "(01)09501101530003"),
    ],
)
def test_both_engines_readings_of_one_label_are_the_same_code(zbar, zxing):
    assert checked_code(zbar, Symbology.CODE128) == checked_code(zxing, Symbology.CODE128)
    assert checked_code(zbar, Symbology.CODE128).code == zxing


def test_a_label_that_is_no_valid_gs1_label_is_not_trusted():
    assert checked_code("0109501101530004", Symbology.CODE128) is None  # GTIN check digit off
    assert checked_code("(01)09501101530003(17)301331", Symbology.CODE128) is None  # month 13
    assert checked_code("LOT\x1d7", Symbology.CODE128) is None  # a control character in a plain Code 128


# Several codes in one image ----------------------------------------------------------

QR_TEXT = "https://weixin.qq.com/r/abcdefg"


def _scripted_engines(monkeypatch, zbar=(), zxing=()):
    """Engines returning scripted (text, symbology) reads, one list per variant, then nothing."""
    scripts = {"zbar": iter(zbar), "zxing": iter(zxing)}
    engines = {name: (lambda image, allowed, it=it: next(it, [])) for name, it in scripts.items()}
    monkeypatch.setattr("catalog.decoding.ENGINES", engines)


FRAME = np.full((720, 1280), 255, np.uint8)


def test_a_qr_code_read_first_in_a_frame_does_not_end_the_search_for_the_barcode(monkeypatch):
    qr, ean = (QR_TEXT, Symbology.QR), (X, Symbology.EAN13)
    _scripted_engines(monkeypatch, zbar=[[qr], [], [], [ean]], zxing=[[qr], [], [], [ean]])
    codes, tried = decode_gray(FRAME)
    assert [c.code for c in codes] == [X, QR_TEXT] and tried == 4


def test_a_qr_code_alone_ends_the_search_a_few_variants_later(monkeypatch):
    from catalog.decoding import LOOK_FURTHER_VARIANTS

    qr = (QR_TEXT, Symbology.QR)
    _scripted_engines(monkeypatch, zbar=[[qr]], zxing=[[qr]])
    codes, tried = decode_gray(FRAME)
    assert [c.code for c in codes] == [QR_TEXT] and tried == 1 + LOOK_FURTHER_VARIANTS
    # Asked for QR codes only, the first one is the answer; and an image the size of one code holds one.
    _scripted_engines(monkeypatch, zbar=[[qr]], zxing=[[qr]])
    assert decode_gray(FRAME, allowed=frozenset({Symbology.QR}))[1] == 1
    _scripted_engines(monkeypatch, zbar=[[qr]], zxing=[[qr]])
    assert decode_gray(BLANK)[1] == 1


def test_a_barcode_beside_a_qr_code_comes_first():
    printed, stored = SAMPLES[Symbology.EAN13]
    for image in (
        side_by_side(render_code(Symbology.QR, QR_TEXT), render_code(Symbology.EAN13, printed)),
        side_by_side(render_code(Symbology.EAN13, printed), render_code(Symbology.QR, QR_TEXT)),
    ):
        assert [c.code for c in decode_image(jpeg(image)).codes][0] == stored


# Pixel limits per format and transparency -------------------------------------------


def _encoded(size: tuple[int, int], fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, 230).save(buffer, fmt, **options)
    return buffer.getvalue()


@override_settings(SCAN_MAX_PIXELS=1_000_000, SCAN_MAX_JPEG_PIXELS=4_000_000)
def test_the_pixel_limit_depends_on_what_decoding_the_format_costs():
    size = (1500, 1000)  # 1.5 million pixels
    assert load_gray(_encoded(size, "JPEG")).shape == (1000, 1500)  # decoded at reduced scale where needed
    for fmt, options in [("PNG", {}), ("GIF", {}), ("BMP", {}), ("JPEG", {"progressive": True})]:
        with pytest.raises(ImageTooLarge, match=f"1500×1000 pixels; at most 1 million pixels are accepted in {fmt}"):
            load_gray(_encoded(size, fmt, **options))
    # Pillow decodes WebP at several times the memory a pixel: a quarter of the limit.
    with pytest.raises(ImageTooLarge, match="at most 0.25 million"):
        load_gray(_encoded((600, 500), "WEBP"))


def test_a_40_megapixel_rgba_png_is_refused_from_its_header():
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 6320, 6320, 8, 6, 0, 0, 0)  # 8-bit RGBA: 160 MB once decoded
    data = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
    )
    with pytest.raises(ImageTooLarge, match="6320×6320"):
        decode_image(data)


def test_a_50_megapixel_phone_jpeg_is_decoded_at_reduced_scale():
    printed, stored = SAMPLES[Symbology.EAN13]
    label = Image.fromarray(render_code(Symbology.EAN13, printed))
    photo = Image.new("L", (8160, 6144), 225)
    photo.paste(label.resize((label.width * 5, label.height * 5)), (2500, 2000))
    data = io.BytesIO()
    photo.save(data, "JPEG", quality=85)
    del photo
    assert [c.code for c in decode_image(data.getvalue()).codes] == [stored]


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_a_code_on_a_transparent_background_is_read(mode):
    printed, stored = SAMPLES[Symbology.EAN13]
    bars = render_code(Symbology.EAN13, printed)
    # Opaque black bars, a fully transparent background whose stored colour is black, as drawing programs save it.
    pixels = np.zeros((*bars.shape, len(mode)), np.uint8)
    pixels[..., -1] = 255 - bars
    assert [c.code for c in decode_image(png(pixels, mode)).codes] == [stored]
