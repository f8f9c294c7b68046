import copy
import csv
import io
from decimal import Decimal

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.admin import ProductAdmin
from catalog.imports import uploads
from catalog.models import Product
from tests.catalog.test_import_files import code, csv_bytes, row
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(django_user_model):
    return django_user_model.objects.create_superuser("boss", password="x")


@pytest.fixture
def staff_client(client, boss, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(boss)
    return client


def upload(client, data: bytes, name="supplier.csv", **extra):
    return client.post(
        reverse("admin:catalog_product_import"), {"file": SimpleUploadedFile(name, data), **extra}, follow=True
    )


def confirm(client, upload_id: str):
    return client.post(reverse("admin:catalog_product_process_import"), {"upload_id": upload_id}, follow=True)


def test_product_list_has_import_and_export_buttons(staff_client):
    page = staff_client.get(reverse("admin:catalog_product_changelist")).content.decode()
    assert reverse("admin:catalog_product_import") in page and reverse("admin:catalog_product_export") in page


def test_upload_previews_then_confirm_applies_it_with_the_user_in_history(staff_client, boss):
    product = ProductFactory(barcode=code(1), name="旧名", selling_price=Decimal("3.00"))
    data = csv_bytes([row(1, name="新名", category=product.category.name), row(2, category="新类别")], encoding="gbk")
    page = upload(staff_client, data)
    content = page.content.decode()
    assert page.status_code == 200 and "Confirm import" in content
    assert "旧名" in content and "新名" in content and "新类别" in content
    assert Product.objects.count() == 1  # previewed, not written

    upload_id = page.context["upload"]["id"]
    done = confirm(staff_client, upload_id)
    assert "Imported: 1 new, 1 updated, 0 unchanged." in done.content.decode()
    product.refresh_from_db()
    assert product.name == "新名" and product.history.first().history_user == boss
    assert Product.objects.get(barcode=code(2)).category.name == "新类别"
    again = confirm(staff_client, upload_id)  # a second click applies nothing twice
    assert again.status_code == 200 and Product.history.filter(barcode=code(2)).count() == 1


def test_file_with_errors_shows_them_offers_the_error_file_and_cannot_be_confirmed(staff_client):
    page = upload(staff_client, csv_bytes([row(1), row(2, cost="abc"), row(1, name="重复")]))
    content = page.content.decode()
    assert "Confirm import" not in content and "not a number" in content and "rows 2 and 4" in content
    upload_id = page.context["upload"]["id"]
    errors = staff_client.get(reverse("admin:catalog_product_import_errors", args=[upload_id]))
    assert errors["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(errors.content.decode("utf-8-sig"))))
    assert lines[0] == ["row", "column", "value", "reason"]
    assert [line[:3] for line in lines[1:]] == [["3", "进价", "abc"], ["4", "条码", code(1)]]
    confirm(staff_client, upload_id)
    assert Product.objects.count() == 0


def test_huge_price_is_shown_as_an_error_not_a_server_error(staff_client):
    page = upload(staff_client, csv_bytes([row(1, price="123456789012345678901234567890")]))
    assert page.status_code == 200
    content = page.content.decode()
    assert "Confirm import" not in content and "the largest allowed is 99999999.99" in content
    assert Product.objects.count() == 0


def test_error_file_neutralizes_formulas_from_the_supplier_file(staff_client):
    page = upload(staff_client, csv_bytes([row(1, price="=1+2")]))
    errors = staff_client.get(reverse("admin:catalog_product_import_errors", args=[page.context["upload"]["id"]]))
    [_header, line] = list(csv.reader(io.StringIO(errors.content.decode("utf-8-sig"))))
    assert line[:3] == ["2", "售价", "'=1+2"]


def test_unchanged_file_says_so_and_offers_no_confirmation(staff_client):
    data = csv_bytes([row(1)])
    confirm(staff_client, upload(staff_client, data).context["upload"]["id"])
    page = upload(staff_client, data).content.decode()
    assert "Nothing to change: all 1 rows already match the catalog." in page and "Confirm import" not in page


def test_large_upload_runs_as_a_job_with_a_progress_bar(staff_client, settings, django_capture_on_commit_callbacks):
    settings.CATALOG_IMPORT_INLINE_MAX_BYTES = 100
    queue = django_rq.get_queue("default")
    queue.empty()
    data = csv_bytes([row(n) for n in range(1, 3001)])
    with django_capture_on_commit_callbacks(execute=True):
        page = upload(staff_client, data)
    state = page.context["upload"]
    assert 'hx-trigger="every 1s"' in page.content.decode() and "<progress" in page.content.decode()
    status_url = reverse("admin:catalog_product_import_status", args=[state["id"]])
    poll = staff_client.get(status_url, headers={"HX-Request": "true"})
    assert "<progress" in poll.content.decode() and "<html" not in poll.content.decode()

    [job] = queue.get_jobs()
    assert job.func_name == "catalog.jobs.catalog_import_preview_job"
    job.perform()  # what a worker does; the job stays listed, so the queue is emptied by hand
    queue.empty()
    assert uploads.upload_state(state["id"])["percent"] == 100
    done = staff_client.get(status_url, headers={"HX-Request": "true"})
    assert done["HX-Refresh"] == "true"
    assert "3000" in staff_client.get(status_url).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        confirm(staff_client, state["id"])
    [job] = queue.get_jobs()
    assert job.func_name == "catalog.jobs.catalog_import_apply_job"
    job.perform()
    queue.empty()
    assert Product.objects.count() == 3000
    assert "Imported: 3000 new" in staff_client.get(status_url).content.decode()


def test_import_needs_add_and_change_permission(client, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(clerk)
    response = client.post(reverse("admin:catalog_product_import"), {"file": SimpleUploadedFile("a.csv", b"x")})
    assert response.status_code == 403 and Product.objects.count() == 0


def test_expired_upload_is_a_clear_404(staff_client):
    response = staff_client.get(reverse("admin:catalog_product_import_status", args=["0" * 32]))
    assert response.status_code == 404


def test_with_redis_down_an_upload_is_refused_clearly_and_nothing_is_kept(staff_client, settings, tmp_path):
    from tests.perf.test_scan_cache import REDIS_DOWN

    settings.CACHES = REDIS_DOWN  # the uploads' states live in Redis with the job queue
    page = upload(staff_client, csv_bytes([row(1), row(2)]))
    assert page.status_code == 200 and "The job queue cannot be reached" in page.content.decode()
    assert not Product.objects.exists()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # the stored file is removed again


def test_with_redis_down_an_upload_page_sends_back_to_the_products_with_the_reason(staff_client, settings):
    from tests.perf.test_scan_cache import REDIS_DOWN

    upload_id = upload(staff_client, csv_bytes([row(1)])).context["upload"]["id"]
    settings.CACHES = REDIS_DOWN
    for page in (
        staff_client.get(reverse("admin:catalog_product_import_status", args=[upload_id]), follow=True),
        confirm(staff_client, upload_id),
    ):
        assert page.redirect_chain[-1][0] == reverse("admin:catalog_product_changelist")
        assert "The job queue cannot be reached" in page.content.decode()
    assert not Product.objects.exists()
    polled = staff_client.get(reverse("admin:catalog_product_import_status", args=[upload_id]), HTTP_HX_REQUEST="true")
    assert polled["HX-Redirect"] == reverse("admin:catalog_product_changelist")


def test_a_second_confirmation_sent_with_the_first_applies_nothing_and_keeps_the_result(staff_client, monkeypatch):
    page = upload(staff_client, csv_bytes([row(1)]))
    upload_id = page.context["upload"]["id"]
    previewed = copy.deepcopy(uploads.upload_state(upload_id))
    confirm(staff_client, upload_id)
    # A double click: the second request read the upload as previewed before the first one changed it.
    with monkeypatch.context() as patch:
        patch.setattr(ProductAdmin, "_upload", lambda self, request, upload_id: copy.deepcopy(previewed))
        staff_client.post(reverse("admin:catalog_product_process_import"), {"upload_id": upload_id})
    done = staff_client.get(reverse("admin:catalog_product_import_status", args=[upload_id])).content.decode()
    assert "Imported: 1 new, 0 updated, 0 unchanged." in done
    assert "This import was already confirmed; it is applied only once." in done
    assert uploads.upload_state(upload_id)["status"] == "applied"
    assert Product.history.filter(barcode=code(1)).count() == 1
