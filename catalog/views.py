from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from catalog.scanning import (
    ALL_SYMBOLOGIES,
    ImageRejected,
    ImageTooLarge,
    ScannedCode,
    Symbology,
    data_url_max_bytes,
    image_bytes_from_data_url,
    scan_products,
    too_many_bytes,
    too_many_bytes_in_data_url,
)
from supermarket.auth import api_auth

# Room for the multipart envelope around the image itself.
ENVELOPE_BYTES = 64 * 1024


def _error(error: str, status: int) -> JsonResponse:
    return JsonResponse({"error": error}, status=status)


def _scanned_json(item: ScannedCode) -> dict:
    scan = item.scan
    product = None
    if scan is not None:
        product = {
            "id": scan.product.pk,
            "barcode": scan.product.barcode,
            "name": scan.product.name,
            "name_en": scan.product.name_en,
            "selling_price": str(scan.product.selling_price),
            "unit": scan.product.unit,
        }
    return {
        "code": item.code.code,
        "symbology": item.code.symbology.value,
        "reads": item.code.reads,
        "product": product,
        "quantity": str(scan.quantity) if scan else None,
        "amount": str(scan.amount) if scan and scan.amount is not None else None,
        "message": item.message,
    }


def _requested_symbologies(request: HttpRequest) -> frozenset[Symbology]:
    names = [name.strip() for name in request.POST.get("symbologies", "").split(",") if name.strip()]
    known = {s.value.lower(): s for s in Symbology}
    unknown = [name for name in names if name.lower() not in known]
    if unknown:
        raise ImageRejected(
            _("Unknown symbology %(names)s; choose from %(choices)s.")
            % {"names": ", ".join(unknown), "choices": ", ".join(s.value for s in Symbology)}
        )
    return frozenset(known[name.lower()] for name in names) or ALL_SYMBOLOGIES


def _image_bytes(request: HttpRequest) -> bytes:
    upload = request.FILES.get("image")
    if upload is not None:
        if upload.size > settings.SCAN_MAX_BYTES:
            raise ImageTooLarge(too_many_bytes())
        return upload.read()
    data_url = request.POST.get("image", "")
    if not data_url:
        raise ImageRejected(_("Send the image as the file field “image” or as a data URL in the field “image”."))
    return image_bytes_from_data_url(data_url)


def refuse_large_body(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """413 from the Content-Length header alone, before authentication or CSRF checks parse the body; and 413 naming
    the data URL's limit when whatever reads the form first (the CSRF check, the view) finds its fields too large."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # The image as a file, or base64 in a data URL (4 characters for 3 bytes), whichever may be larger.
        largest = max(settings.SCAN_MAX_BYTES, data_url_max_bytes() * 4 // 3)
        if int(request.META.get("CONTENT_LENGTH") or 0) > largest + ENVELOPE_BYTES:
            return _error(too_many_bytes(), 413)
        try:
            return view(request, *args, **kwargs)
        except RequestDataTooBig:
            # Form fields over DATA_UPLOAD_MAX_MEMORY_SIZE: a data URL (a file is not a form field).
            return _error(too_many_bytes_in_data_url(), 413)

    return wrapper


class ImageInMemoryUploadHandler(MemoryFileUploadHandler):
    """Keeps an uploaded image in memory whatever its size, never in a temporary file (docs/SECURITY.md).

    Django's default handlers write a file over FILE_UPLOAD_MAX_MEMORY_SIZE
    (2.5 MB) to disk. refuse_large_body has bounded the body by its
    Content-Length; past SCAN_MAX_BYTES (a body without one) the rest is
    counted, not kept, and the file's size tells the view to refuse it.
    """

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None) -> None:
        self.activated = True

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if start + len(raw_data) <= settings.SCAN_MAX_BYTES:
            self.file.write(raw_data)


def image_upload_in_memory(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Installs ImageInMemoryUploadHandler before anything reads the body.

    The CSRF check reads the form, after which the handlers cannot change: the
    view stays CSRF-exempt for the middleware, and api_auth, inside this,
    checks the token for session requests (Django's csrf_exempt/csrf_protect
    pattern for views that change upload handlers).
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        request.upload_handlers = [ImageInMemoryUploadHandler(request)]
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapper)


@require_POST
@refuse_large_body
@image_upload_in_memory
@api_auth
def scan(request: HttpRequest) -> JsonResponse:
    """Codes in a camera frame or photo, each with the product it resolves to, and the decode time.

    Authenticated by API token or by a logged-in session with the CSRF token in X-CSRFToken.
    """
    try:
        allowed = _requested_symbologies(request)
        decoding, scanned = scan_products(_image_bytes(request), allowed=allowed)
    except ImageRejected as error:
        return _error(str(error), error.status)
    decode_ms = round(decoding.elapsed_ms, 1)
    if not scanned:
        return JsonResponse(
            {"error": _("No barcode could be read in this image."), "codes": [], "decode_ms": decode_ms}, status=422
        )
    return JsonResponse({"codes": [_scanned_json(item) for item in scanned], "decode_ms": decode_ms})
