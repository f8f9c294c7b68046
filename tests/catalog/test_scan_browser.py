"""The camera button in real headless Chromium, fed a barcode by Chromium's fake camera."""

import io
import json
from contextlib import contextmanager

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from PIL import Image

from catalog.scanning import Symbology
from stock.models import CountEntry
from stock.stocktake import count_session_start
from tests.browser import admin_login
from tests.catalog.test_scan_decoding import QR_TEXT, in_frame, render_code
from tests.factories import ProductFactory

playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="session")
def metrics_loaded(django_db_setup, django_db_blocker):
    # The live server imports the metrics module on its first request, and that import reads the database.
    with django_db_blocker.unblock():
        import supermarket.metrics  # noqa: F401


def write_y4m(path, gray: np.ndarray, frames: int = 10) -> None:
    """A still video in the format Chromium's fake camera reads (YUV 4:2:0, gray: flat chroma)."""
    height, width = gray.shape
    chroma = np.full((height // 2) * (width // 2), 128, np.uint8).tobytes()
    with open(path, "wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + gray.tobytes() + chroma + chroma)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_camera_button_reads_a_code_and_submits_it_like_a_typed_scan(
    metrics_loaded, tmp_path, live_server, monkeypatch, floor
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    soap = ProductFactory(name="肥皂")
    session = count_session_start(location=floor)
    video = tmp_path / "camera.y4m"
    write_y4m(video, in_frame(render_code(Symbology.EAN13, soap.barcode), width=420))
    with count_page(live_server, session, args=[f"--use-file-for-fake-video-capture={video}"]) as page:
        page.click("[data-camera-scan-start]")
        page.wait_for_selector("#entries li:has-text('肥皂')")
        # Scanning stopped with the first read: the camera is released and its view hidden.
        page.wait_for_selector("[data-camera-scan-view]", state="hidden")
    assert [(entry.line.product, entry.quantity) for entry in CountEntry.objects.all()] == [(soap, 1)]


@contextmanager
def count_page(live_server, session, args=()):
    """A logged-in Chromium page on the count session, its fake camera showing what args say."""
    get_user_model().objects.create_superuser("lager", password="lager-pass-1")
    flags = ["--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[*flags, *args], headless=True)
        page = browser.new_page()
        page.set_default_timeout(30_000)
        admin_login(page, live_server.url, "lager", "lager-pass-1")
        page.goto(f"{live_server.url}/stock/counts/{session.pk}/")
        yield page
        browser.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_camera_button_enters_the_code_that_names_a_product_not_the_first_one(
    metrics_loaded, live_server, monkeypatch, floor
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    soap = ProductFactory(name="肥皂")
    session = count_session_start(location=floor)
    # The server's answer for a frame where a QR code came first: a code without product, then the barcode.
    codes = [
        {"code": QR_TEXT, "symbology": "QR", "reads": 3, "product": None, "message": "No product"},
        {"code": soap.barcode, "symbology": "EAN-13", "reads": 2, "product": {"id": soap.pk}, "message": ""},
    ]
    answer = json.dumps({"codes": codes, "decode_ms": 5})
    with count_page(live_server, session) as page:
        page.route("**/api/scan", lambda route: route.fulfill(status=200, content_type="application/json", body=answer))
        page.click("[data-camera-scan-start]")
        page.wait_for_selector("#entries li:has-text('肥皂')")
    assert [(entry.line.product, entry.quantity) for entry in CountEntry.objects.all()] == [(soap, 1)]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_photo_is_shrunk_in_the_browser_before_it_is_sent(metrics_loaded, live_server, monkeypatch, floor):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    soap = ProductFactory(name="肥皂")
    session = count_session_start(location=floor)
    # A 12-megapixel PNG: more pixels than the server decodes in a format it decodes whole.
    label = Image.fromarray(render_code(Symbology.EAN13, soap.barcode))
    photo = Image.new("RGB", (4000, 3000), (200, 190, 180))
    photo.paste(label.resize((label.width * 3, label.height * 3)), (1000, 900))
    buffer = io.BytesIO()
    photo.save(buffer, "PNG")
    sent = []

    def record(route):
        sent.append(route.request)
        route.continue_()

    with count_page(live_server, session) as page:
        page.route("**/api/scan", record)
        page.set_input_files(
            "[data-camera-scan-file]", {"name": "photo.png", "mimeType": "image/png", "buffer": buffer.getvalue()}
        )
        page.wait_for_selector("#entries li:has-text('肥皂')")
        [request] = sent
        boundary = request.headers["content-type"].split("boundary=")[1].encode()
        [part] = [part for part in request.post_data_buffer.split(b"--" + boundary) if b'name="image"' in part]
        uploaded = Image.open(io.BytesIO(part.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n")))
    assert uploaded.format == "JPEG" and uploaded.size == (1600, 1200)
    assert [(entry.line.product, entry.quantity) for entry in CountEntry.objects.all()] == [(soap, 1)]
