"""Production hardening: deploy checks, CSP, login throttling, idle sessions, CSRF on htmx, secure cookies, uploads."""

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from catalog.imports.forms import CatalogImportForm
from catalog.imports.uploads import upload_create
from checkout.selectors import open_shift
from checkout.services import shift_open
from supermarket.roles import CASHIER, MANAGER, user_set_role
from tests.security.conftest import PASSWORD

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "shop.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def check_deploy(**env) -> str:
    environment = {**os.environ, "LOG_LEVEL": "WARNING", **env}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout + result.stderr


def test_check_deploy_with_production_settings_prints_no_warning():
    output = check_deploy(**PRODUCTION)
    assert "System check identified no issues" in output, output
    assert "WARNING" not in output


def test_check_deploy_names_what_is_missing_without_them():
    output = check_deploy(**{**PRODUCTION, "SECURE_HSTS_SECONDS": "0", "SESSION_COOKIE_SECURE": "false"})
    assert "security.W004" in output and "security.W012" in output


def test_production_answers_carry_hsts_and_secure_cookies(client, django_user_model):
    with override_settings(
        SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True, SESSION_COOKIE_SECURE=True
    ):
        user = django_user_model.objects.create_user("m", password=PASSWORD)
        user_set_role(user=user, role=MANAGER)
        response = client.post("/admin/login/", {"username": "m", "password": PASSWORD, "next": "/admin/"}, secure=True)
        assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        cookie = response.cookies[settings.SESSION_COOKIE_NAME]
        assert cookie["secure"] and cookie["httponly"]


@pytest.fixture
def till_client(users, register):
    if open_shift(register) is None:
        shift_open(register=register, opening_float=Decimal("50.00"), user=users[CASHIER])
    client = Client(enforce_csrf_checks=True)
    client.force_login(users[CASHIER])
    page = client.get(reverse("checkout:register-choose"))
    token = page.cookies["csrftoken"].value
    client.post(reverse("checkout:register-choose"), {"register": register.pk, "csrfmiddlewaretoken": token})
    return client


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+=", re.I), "event handler attribute"),
    (re.compile(r"\shx-on", re.I), "hx-on (needs eval)"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_pages_send_a_csp_they_pass_with_no_inline_script_or_style(till_client, users, store, client):
    client.force_login(users[MANAGER])
    pages = [
        (till_client, reverse("checkout:till")),
        (till_client, reverse("checkout:override")),
        (till_client, reverse("checkout:return")),
        (till_client, reverse("checkout:receipt", args=[store["sale"].number])),
        (Client(), reverse("checkout:login")),
        (client, reverse("checkout:override-list")),
        (client, reverse("stock:home")),
        (client, reverse("stock:receipt-detail", args=[store["receipt"].pk])),
        (client, reverse("stock:count-detail", args=[store["count"].pk])),
        (client, reverse("stock:replenishment")),
        (client, reverse("reports:index")),
        (client, reverse("reports:report", args=["sales-by-category"])),
    ]
    for who, url in pages:
        response = who.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe" not in policy
        html = response.content.decode()
        found = [label for pattern, label in INLINE if pattern.search(html)]
        assert not found, f"{url}: {found}"


def test_htmx_is_told_not_to_inject_styles_nor_eval(till_client):
    html = till_client.get(reverse("checkout:till")).content.decode()
    assert '"includeIndicatorStyles": false' in html and '"allowEval": false' in html


def test_every_htmx_request_carries_the_csrf_token_and_is_refused_without_it(till_client):
    html = till_client.get(reverse("checkout:till")).content.decode()
    token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', html).group(1)
    without = till_client.post(reverse("checkout:scan"), {"code": "x"}, HTTP_HX_REQUEST="true")
    assert without.status_code == 403
    with_token = till_client.post(
        reverse("checkout:scan"), {"code": ""}, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token
    )
    assert with_token.status_code == 200


def test_repeated_wrong_passwords_lock_the_name_on_that_device(users):
    limit = settings.AXES_FAILURE_LIMIT
    client = Client()
    for _try in range(limit - 1):
        assert client.post(reverse("checkout:login"), {"username": "cashier", "password": "wrong"}).status_code == 200
    assert client.post(reverse("checkout:login"), {"username": "cashier", "password": "wrong"}).status_code == 429
    locked = client.post(reverse("checkout:login"), {"username": "cashier", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another name from the same device, and the same name from another device, still log in.
    elsewhere = Client(REMOTE_ADDR="10.0.0.2")
    assert elsewhere.post(reverse("checkout:login"), {"username": "cashier", "password": PASSWORD}).status_code == 302
    other = Client().post(reverse("admin:login"), {"username": "manager", "password": PASSWORD, "next": "/admin/"})
    assert other.status_code == 302


def test_an_idle_till_session_ends_and_sends_the_cashier_to_log_in(till_client, monkeypatch):
    assert till_client.get(reverse("checkout:till")).status_code == 200
    expires = Session.objects.get().expire_date
    # The idle time passes: the session is refused even though this worker has it cached.
    monkeypatch.setattr(timezone, "now", lambda: expires + timedelta(seconds=1))
    response = till_client.get(reverse("checkout:till"))
    assert response.status_code == 302 and response.url.startswith(reverse("checkout:login"))


def test_activity_renews_the_session_at_most_once_a_minute(till_client, monkeypatch):
    import supermarket.access as access

    till_client.get(reverse("checkout:till"))
    first = Session.objects.get().expire_date
    till_client.get(reverse("checkout:till"))
    assert Session.objects.get().expire_date == first  # same minute: no write
    monkeypatch.setattr(access.time, "time", lambda: __import__("time").monotonic() + 10**9)
    till_client.get(reverse("checkout:till"))
    assert Session.objects.get().expire_date > first
    assert settings.SESSION_COOKIE_AGE == int(os.getenv("SESSION_IDLE_MINUTES", "30")) * 60


def catalog_form(content: bytes, name: str) -> CatalogImportForm:
    return CatalogImportForm(data={"supplier": ""}, files={"file": SimpleUploadedFile(name, content)})


def test_catalog_uploads_are_judged_by_content_not_name():
    assert catalog_form("条码,名称\n6901234567892,牛奶\n".encode("gbk"), "list.csv").is_valid()
    assert catalog_form(b"PK\x03\x04rest-of-zip", "list.xlsx").is_valid()
    for content, name in [
        (b"<html><script>alert(1)</script></html>", "list.csv"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "list.csv"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "list.xls"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "list.xlsx"),
    ]:
        form = catalog_form(content, name)
        assert not form.is_valid()
        assert "judged by its content" in form.errors["file"][0]


@override_settings(CATALOG_IMPORT_MAX_BYTES=1000)
def test_catalog_uploads_over_the_size_cap_are_refused_with_their_size():
    form = catalog_form(b"a,b\n" * 500, "big.csv")
    assert not form.is_valid()
    assert "2.0" in form.errors["file"][0] or "0.0" in form.errors["file"][0]


def test_a_stored_upload_never_takes_the_uploaders_file_name(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    state = upload_create(data=b"a,b\n1,2\n", filename="../../static/evil.html", default_supplier="", user_id=None)
    assert state["path"] == f"catalog-imports/{state['id']}/upload.csv"
    stored = list(tmp_path.rglob("*"))
    assert all("evil" not in p.name and "static" not in p.parts for p in stored)
    assert state["filename"] == "evil.html"  # shown to the user only


def test_no_secret_in_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert ".env" not in tracked
    # A name that says secret, then a long literal value on the same line. The embedded demo's key says what it is.
    pattern = re.compile(
        r"(SECRET_KEY|PASSWORD|TOKEN)[ \t]*=[ \t]*['\"]?(?!embedded-demo-only-not-secret)[\w\-+/]{20,}"
    )
    offenders = []
    for name in tracked:
        path = ROOT / name
        if (
            path.suffix in {".py", ".env", ".yml", ".yaml", ".toml", ".cfg", ".ini", ".example", ".sh"}
            and path.exists()
        ):
            if pattern.search(path.read_text(errors="ignore")):
                offenders.append(name)
    assert offenders == []
