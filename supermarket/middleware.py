"""Middleware that only pages need, skipped by the JSON API.

Scanners, tills and integrations call /api/ many times a second and get JSON back: no HTML to frame, no Content
Security Policy to apply, no flash messages, no htmx headers, no admin history to attribute, no login form to
lock out (API tokens are not passwords). `PagesOnly` runs settings.PAGE_MIDDLEWARE for every other path, in
their order, at its place in settings.MIDDLEWARE; an API request goes straight on to the view.

Only middleware without process_view, process_exception or process_template_response hooks can be listed:
Django calls those hooks from settings.MIDDLEWARE alone (checked when the server starts).
"""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.utils.module_loading import import_string

API_PREFIX = "/api/"
_HOOKS = ("process_view", "process_exception", "process_template_response")
# Middleware that the admin, django-axes and Django's deployment checks require and look for in MIDDLEWARE only
# (their checks admin.E409, axes.W002 and security.W002 are silenced in settings): page_middleware_check finds them
# in either list.
REQUIRED = (
    "django.contrib.messages.middleware.MessageMiddleware",
    "axes.middleware.AxesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)


class PagesOnly:
    def __init__(self, get_response):
        self.get_response = get_response
        pages = get_response
        for path in reversed(settings.PAGE_MIDDLEWARE):
            try:
                middleware = import_string(path)(pages)
            except MiddlewareNotUsed:
                continue
            hooks = [hook for hook in _HOOKS if hasattr(middleware, hook)]
            if hooks:
                raise ImproperlyConfigured(f"{path} has {', '.join(hooks)}: list it in MIDDLEWARE, not PAGE_MIDDLEWARE")
            # As Django's handler wraps each layer: an exception becomes this layer's error response.
            pages = convert_exception_to_response(middleware)
        self.pages = pages

    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        return self.pages(request)


@checks.register
def page_middleware_check(app_configs, **kwargs) -> list[checks.Error]:
    listed = [*settings.MIDDLEWARE, *getattr(settings, "PAGE_MIDDLEWARE", [])]
    return [
        checks.Error(f"{path} must be in MIDDLEWARE or PAGE_MIDDLEWARE.", id="supermarket.E001")
        for path in REQUIRED
        if path not in listed
    ]
