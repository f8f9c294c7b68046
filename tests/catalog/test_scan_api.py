import base64
import re
import time
from datetime import timedelta

import cv2
import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files import uploadhandler
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import Context, Template
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone

from catalog import gs1
from catalog.scanning import Symbology
from checkout.models import ApiToken
from stock.models import CountEntry
from stock.receiving import receipt_scan, receipt_start
from stock.stocktake import count_add, count_session_start
from tests.catalog.test_scan_decoding import (
    QR_TEXT,
    SAMPLES,
    decompression_bomb,
    in_frame,
    jpeg,
    png,
    render_code,
    render_gs1_128,
)
from tests.factories import ProductBarcodeFactory, ProductFactory, ean13

pytestmark = pytest.mark.django_db
URL = "/api/scan"


@pytest.fixture
def user():
    cashier = get_user_model().objects.create_user("cashier1", password="till-pass-1")
    cashier.user_permissions.add(Permission.objects.get(content_type__app_label="checkout", codename="add_sale"))
    return cashier


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


def image_of(code: str, symbology: Symbology = Symbology.EAN13) -> bytes:
    return jpeg(render_code(symbology, code))


def upload(client, data: bytes, **fields):
    return client.post(URL, {"image": _file(data), **fields})


def _file(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("frame.jpg", data, content_type="image/jpeg")


def test_scan_url_is_api_scan():
    assert reverse("catalog:scan") == URL


def test_it_refuses_anonymous_with_401_json_not_a_redirect(client):
    response = upload(client, image_of(ean13(1)))
    assert response.status_code == 401
    assert "log in" in response.json()["error"].lower()


def test_it_accepts_an_api_token_without_csrf(user):
    token = ApiToken.objects.create(user=user)
    product = ProductFactory()
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        URL, {"image": _file(image_of(product.barcode))}, headers={"Authorization": f"Token {token.key}"}
    )
    assert response.status_code == 200 and response.json()["codes"][0]["product"]["id"] == product.pk


def test_a_wrong_api_token_is_401(client):
    response = client.post(URL, {"image": _file(image_of(ean13(5)))}, headers={"Authorization": "Token nope"})
    assert response.status_code == 401


def test_it_accepts_only_post(client_in):
    assert client_in.get(URL).status_code == 405


def test_it_returns_the_code_the_product_and_the_decode_time(client_in):
    product = ProductFactory(barcode=ean13(4711))
    response = upload(client_in, image_of(product.barcode))
    assert response.status_code == 200
    body = response.json()
    assert body["decode_ms"] > 0
    [found] = body["codes"]
    assert found["code"] == product.barcode and found["symbology"] == "EAN-13"
    assert found["product"]["id"] == product.pk and found["product"]["name"] == product.name
    assert found["product"]["selling_price"] == "4.50" and found["quantity"] == "1"


def test_a_case_barcode_counts_its_pack_quantity(client_in):
    extra = ProductBarcodeFactory(pack_quantity=12)
    found = upload(client_in, image_of(extra.barcode)).json()["codes"][0]
    assert found["product"]["id"] == extra.product.pk and found["quantity"] == "12"


def test_a_upc_a_finds_the_product_stored_in_13_digits(client_in):
    product = ProductFactory(barcode="0036000291452")
    found = upload(client_in, image_of("036000291452", Symbology.UPCA)).json()["codes"][0]
    assert found["product"]["id"] == product.pk and found["symbology"] == "UPC-A"


def test_a_code_no_product_carries_comes_back_without_product_and_says_so(client_in):
    code = ean13(999_001)
    found = upload(client_in, image_of(code)).json()["codes"][0]
    assert found["code"] == code and found["product"] is None
    assert code in found["message"]


def test_it_accepts_a_data_url(client_in):
    product = ProductFactory()
    data_url = "data:image/jpeg;base64," + base64.b64encode(image_of(product.barcode)).decode()
    response = client_in.post(URL, {"image": data_url})
    assert response.status_code == 200
    assert response.json()["codes"][0]["product"]["id"] == product.pk


def test_an_image_without_a_code_is_422(client_in):
    blank = np.full((480, 640), 235, np.uint8)
    response = upload(client_in, jpeg(blank))
    assert response.status_code == 422
    assert response.json()["codes"] == [] and "No barcode" in response.json()["error"]


def test_only_the_symbologies_asked_for_are_returned(client_in):
    printed, _ = SAMPLES[Symbology.EAN13]
    assert upload(client_in, image_of(printed), symbologies="QR").status_code == 422
    assert upload(client_in, image_of(printed), symbologies="EAN-8, ean-13").status_code == 200


def test_an_unknown_symbology_is_400_naming_it(client_in):
    response = upload(client_in, image_of(ean13(2)), symbologies="EAN-13,PDF417")
    assert response.status_code == 400 and "PDF417" in response.json()["error"]


def test_a_text_file_is_400(client_in):
    response = upload(client_in, b"barcode,name\n6901234567892,milk\n")
    assert response.status_code == 400 and "not an image" in response.json()["error"]


def test_a_truncated_image_is_400(client_in):
    data = image_of(ean13(3))
    response = upload(client_in, data[: len(data) // 3])
    assert response.status_code == 400 and "damaged" in response.json()["error"]


def test_a_missing_image_is_400(client_in):
    response = client_in.post(URL, {})
    assert response.status_code == 400 and "image" in response.json()["error"]


def test_a_malformed_data_url_is_400(client_in):
    assert client_in.post(URL, {"image": "data:text/plain;base64,aGVsbG8="}).status_code == 400
    response = client_in.post(URL, {"image": "data:image/png;base64,@@not base64@@"})
    assert response.status_code == 400 and "base64" in response.json()["error"]


def test_a_decompression_bomb_is_413_and_refused_quickly(client_in):
    bomb = decompression_bomb()
    started = time.perf_counter()
    response = upload(client_in, bomb)
    assert response.status_code == 413 and "8000×8000" in response.json()["error"]
    assert time.perf_counter() - started < 0.5


@override_settings(SCAN_MAX_BYTES=20_000)
def test_a_file_over_the_size_limit_is_413(client_in):
    big = jpeg(np.random.default_rng(0).integers(0, 255, (600, 800)).astype(np.uint8))
    assert len(big) > 20_000
    response = upload(client_in, big)
    assert response.status_code == 413 and "19 KB" in response.json()["error"]


@override_settings(SCAN_MAX_BYTES=20_000)
def test_a_data_url_over_the_size_limit_is_413(client_in):
    big = jpeg(np.random.default_rng(0).integers(0, 255, (600, 800)).astype(np.uint8))
    response = client_in.post(URL, {"image": "data:image/jpeg;base64," + base64.b64encode(big).decode()})
    assert response.status_code == 413


@override_settings(SCAN_MAX_BYTES=20_000)
def test_a_body_over_the_limit_is_413_from_its_length_alone(client):
    # Anonymous and without CSRF: the size is refused before anything reads the body.
    response = client.generic("POST", URL, b"x" * 100, CONTENT_LENGTH="999999999", content_type="image/jpeg")
    assert response.status_code == 413


def test_csrf_is_required_and_accepted_from_the_header(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("admin:login"))  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    data = image_of(ProductFactory().barcode)
    assert client.post(URL, {"image": _file(data)}).status_code == 403
    assert client.post(URL, {"image": _file(data)}, headers={"X-CSRFToken": token}).status_code == 200


def test_the_camera_button_include_renders_with_target_and_script(client_in):
    request = RequestFactory().get("/")
    html = Template('{% include "includes/camera_scan.html" with target="scan-input" %}').render(
        Context({"request": request, "csrf_token": "tok"})
    )
    assert 'data-target="scan-input"' in html and f'data-scan-url="{URL}"' in html
    assert 'data-csrf="tok"' in html and "scan/camera.js" in html and 'type="file"' in html
    assert "<script>" not in html  # no inline script: the page's CSP can forbid them


def test_a_blurred_webcam_frame_is_decoded_through_the_api(client_in):
    product = ProductFactory()
    label = render_code(Symbology.EAN13, product.barcode)
    frame = np.full((720, 1280), 120, np.uint8)
    small = cv2.resize(label, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
    frame[200 : 200 + small.shape[0], 300 : 300 + small.shape[1]] = small
    response = upload(client_in, jpeg(cv2.GaussianBlur(frame, (0, 0), 1.2)))
    assert response.status_code == 200 and response.json()["codes"][0]["product"]["id"] == product.pk


def test_a_case_label_is_read_and_received_and_counted_like_a_typed_one(client_in, floor):
    yoghurt = ProductFactory(lot_tracked=True)
    expiry = timezone.localdate() + timedelta(days=60)
    # Lot before expiry: zbar ends the lot with the GS character, zxing-cpp prints the AIs in parentheses.
    raw = f"02{'0' + yoghurt.barcode}10Y-77{gs1.GS}17{expiry:%y%m%d}3712"
    response = upload(client_in, png(render_gs1_128(raw)))
    assert response.status_code == 200
    [found] = response.json()["codes"]
    assert found["code"] == f"(02)0{yoghurt.barcode}(10)Y-77(17){expiry:%y%m%d}(37)12"
    assert found["symbology"] == "Code 128" and found["product"]["id"] == yoghurt.pk and found["quantity"] == "12"
    # What the camera enters is what the receiving and counting pages take typed.
    receipt = receipt_start(location=floor, reason="walk-in delivery")
    receipt_scan(receipt=receipt, code=found["code"])
    line = receipt.lines.get()
    assert (line.product, line.lot_code, line.expiry_date, line.quantity) == (yoghurt, "Y-77", expiry, 12)
    count_add(session=count_session_start(location=floor), code=found["code"])
    assert [(entry.line.product, entry.quantity) for entry in CountEntry.objects.all()] == [(yoghurt, 12)]


def test_the_barcode_beside_a_qr_code_comes_first_with_its_product(client_in):
    product = ProductFactory()
    # A webcam frame where the large WeChat QR code reads at once and the barcode only in a later variant.
    frame = in_frame(render_code(Symbology.EAN13, product.barcode), width=300)
    qr = cv2.resize(render_code(Symbology.QR, QR_TEXT), None, fx=1.5, fy=1.5, interpolation=cv2.INTER_NEAREST)
    frame[50 : 50 + qr.shape[0], 50 : 50 + qr.shape[1]] = qr
    codes = upload(client_in, jpeg(frame)).json()["codes"]
    assert codes[0]["code"] == product.barcode and codes[0]["product"]["id"] == product.pk
    assert [code["code"] for code in codes[1:]] in ([], [QR_TEXT])


@override_settings(FILE_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_an_image_file_is_kept_in_memory_never_written_to_disk(client_in, monkeypatch):
    written = []
    monkeypatch.setattr(
        uploadhandler.TemporaryFileUploadHandler, "new_file", lambda self, *args, **kwargs: written.append(args)
    )
    product = ProductFactory()
    data = image_of(product.barcode)
    assert len(data) > 1024  # over what Django's default handlers keep in memory
    response = upload(client_in, data)
    assert response.status_code == 200 and response.json()["codes"][0]["product"]["id"] == product.pk
    assert written == []


def test_an_image_file_is_kept_in_memory_with_an_api_token_and_with_csrf(user, monkeypatch):
    monkeypatch.setattr(uploadhandler.TemporaryFileUploadHandler, "new_file", lambda *args, **kwargs: 1 / 0)
    data = image_of(ProductFactory().barcode)
    with override_settings(FILE_UPLOAD_MAX_MEMORY_SIZE=1024):
        token = ApiToken.objects.create(user=user)
        response = Client(enforce_csrf_checks=True).post(
            URL, {"image": _file(data)}, headers={"Authorization": f"Token {token.key}"}
        )
        assert response.status_code == 200
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        client.get(reverse("admin:login"))
        csrf = client.cookies["csrftoken"].value
        assert client.post(URL, {"image": _file(data)}).status_code == 403
        assert client.post(URL, {"image": _file(data)}, headers={"X-CSRFToken": csrf}).status_code == 200


def _padded_data_url(image: bytes, size: int) -> str:
    # Bytes after a JPEG's end marker are ignored by decoders: the same image at any size.
    return "data:image/jpeg;base64," + base64.b64encode(image + b"\0" * (size - len(image))).decode()


def test_a_data_url_is_refused_at_the_limit_it_states_and_no_sooner(user):
    client = Client(enforce_csrf_checks=True)  # the CSRF check reads the form first, as in a browser
    client.force_login(user)
    client.get(reverse("admin:login"))
    client_in = Client(enforce_csrf_checks=True, headers={"X-CSRFToken": client.cookies["csrftoken"].value})
    client_in.cookies = client.cookies
    product = ProductFactory()
    image = image_of(product.barcode)
    refused = client_in.post(URL, {"image": _padded_data_url(image, 4 * 1024 * 1024)})
    assert refused.status_code == 413
    stated = re.search(r"at most (\d+) KB", refused.json()["error"])
    assert stated, refused.json()["error"]
    limit = int(stated.group(1)) * 1024
    accepted = client_in.post(URL, {"image": _padded_data_url(image, limit), "symbologies": "EAN-13,UPC-A"})
    assert accepted.status_code == 200 and accepted.json()["codes"][0]["product"]["id"] == product.pk
    over = client_in.post(URL, {"image": _padded_data_url(image, limit + 1024)})
    assert over.status_code == 413 and over.json()["error"] == refused.json()["error"]
