"""Failures outside the views' own validation, answered clearly instead of with a 500 or a bare 400 page.

A database that cannot be reached answers 503 with Retry-After. Text holding a NUL character, which PostgreSQL
cannot store or compare, is refused with 400 before any view reads it.

PostgreSQL restarting or failing over drops every connection: the request in
flight gets OperationalError or InterfaceError, and new connections are refused
for a few seconds. Its transaction rolled back (or committed just before the
drop), so the client may repeat the request: a sale carries its client token
and is written exactly once whichever way it went. Django closes the broken
connection at the end of the request, so the next request reconnects.
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from supermarket.middleware import API_PREFIX

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    message = _("The database cannot be reached for a moment. Retry the same request in a few seconds.")
    if request.path_info.startswith(API_PREFIX) or "json" in request.headers.get("Accept", ""):
        response = JsonResponse({"error": message, "retry_after": RETRY_AFTER_SECONDS}, status=503)
    else:
        response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class _ExceptionMiddleware:
    """A middleware that only answers exceptions raised by views (process_exception)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


class DatabaseUnavailableMiddleware(_ExceptionMiddleware):
    """Turns a lost or refused database connection raised by a view into 503 + Retry-After."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable, %s %s answered 503: %s", request.method, request.path, exception)
        return database_unavailable_response(request)


class BodyTooLargeMiddleware(_ExceptionMiddleware):
    """An API body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused with 413 JSON saying so, not a bare 400 page."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, RequestDataTooBig) or not request.path_info.startswith(API_PREFIX):
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = _("The request body is too large: at most %(size)s bytes are accepted.") % {"size": limit}
        return JsonResponse({"error": message, "field": "body"}, status=413)


NUL = "\x00"
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def nul_field(value, name: str = "") -> str | None:
    """Where in a parsed JSON value a text holds a NUL character (like lines[0].code), or None."""
    if isinstance(value, str):
        return (name or "body") if NUL in value else None
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in children:
        path = f"{name}[{key}]" if isinstance(key, int) else f"{name}.{key}" if name else key
        if isinstance(key, str) and NUL in key:
            return path
        if found := nul_field(item, path):
            return found
    return None


def nul_message(field: str) -> str:
    return _("%(field)s holds a NUL character, which no text may hold.") % {"field": field}


class NulRefusedMiddleware:
    """A path, query parameter or form field holding a NUL character is answered 400 naming it. PostgreSQL text
    cannot hold one: passed on, the first query with it would fail with a 500 (a scanned code, a sale number in the
    URL). Checked before the view and the access rules run, and after the CSRF check (a forged POST is refused
    before its form is read) and the choice of language (the message is in the user's). Uploaded files are not
    looked at; the JSON API checks its bodies itself (nul_field)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        field = "path" if NUL in request.path else _nul_in(request.GET)
        api = request.path_info.startswith(API_PREFIX)
        # Not the API's: its views read the body themselves, which reading the form here would use up.
        if field is None and not api and request.method == "POST" and request.content_type in _FORMS:
            field = _nul_in(request.POST)
        if field is None:
            return None
        message = nul_message(field)
        if api:
            return JsonResponse({"error": message, "field": field}, status=400)
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def _nul_in(data) -> str | None:
    return next((key for key, values in data.lists() if NUL in key or any(NUL in v for v in values)), None)
