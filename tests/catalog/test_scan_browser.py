"""The camera button in real headless Chromium, fed a barcode by Chromium's fake camera."""

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from catalog.scanning import Symbology
from stock.models import CountEntry
from stock.stocktake import count_session_start
from tests.catalog.test_scan_decoding import in_frame, render_code
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
    get_user_model().objects.create_superuser("lager", password="lager-pass-1")
    video = tmp_path / "camera.y4m"
    write_y4m(video, in_frame(render_code(Symbology.EAN13, soap.barcode), width=420))
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args, headless=True)
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "lager")
        page.fill("#id_password", "lager-pass-1")
        page.press("#id_password", "Enter")
        page.wait_for_url("**/admin/")
        page.goto(f"{live_server.url}/stock/counts/{session.pk}/")
        page.click("[data-camera-scan-start]")
        page.wait_for_selector("#entries li:has-text('肥皂')")
        # Scanning stopped with the first read: the camera is released and its view hidden.
        page.wait_for_selector("[data-camera-scan-view]", state="hidden")
        browser.close()
    assert [(entry.line.product, entry.quantity) for entry in CountEntry.objects.all()] == [(soap, 1)]
