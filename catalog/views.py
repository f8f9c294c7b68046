from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from catalog.scanning import (
    ALL_SYMBOLOGIES,
    ImageRejected,
    ImageTooLarge,
    ScannedCode,
    Symbology,
    image_bytes_from_data_url,
    scan_products,
    too_many_bytes,
)
from supermarket.auth import api_auth

# Room for the multipart envelope and base64's third around the image itself.
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
    """413 from the Content-Length header alone, before authentication or CSRF checks parse the body."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.SCAN_MAX_BYTES * 4 // 3 + ENVELOPE_BYTES:
            return _error(too_many_bytes(), 413)
        return view(request, *args, **kwargs)

    return wrapper


@require_POST
@refuse_large_body
@api_auth
def scan(request: HttpRequest) -> JsonResponse:
    """Codes in a camera frame or photo, each with the product it resolves to, and the decode time.

    Authenticated by API token or by a logged-in session with the CSRF token in X-CSRFToken.
    """
    try:
        allowed = _requested_symbologies(request)
        decoding, scanned = scan_products(_image_bytes(request), allowed=allowed)
    except RequestDataTooBig:
        return _error(too_many_bytes(), 413)
    except ImageRejected as error:
        return _error(str(error), error.status)
    decode_ms = round(decoding.elapsed_ms, 1)
    if not scanned:
        return JsonResponse(
            {"error": _("No barcode could be read in this image."), "codes": [], "decode_ms": decode_ms}, status=422
        )
    return JsonResponse({"codes": [_scanned_json(item) for item in scanned], "decode_ms": decode_ms})
