"""Authentication for the JSON API: `Authorization: Token <key>` or a logged-in browser session."""

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt


def _token_user(header: str):
    from checkout.models import ApiToken  # the token model lives with its main user, the sales API

    scheme, _sep, key = header.partition(" ")
    if scheme.lower() != "token" or not key.strip():
        return None
    token = ApiToken.objects.select_related("user").filter(key=key.strip()).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


def _csrf_failure(request: HttpRequest) -> HttpResponse | None:
    # A session is a cookie the browser sends by itself, so session-authenticated writes still need the CSRF token;
    # a token request carries no cookie and is exempt, as the key cannot be forged by another site.
    check = CsrfViewMiddleware(lambda req: HttpResponse())
    check.process_request(request)
    return check.process_view(request, None, (), {})


def api_auth(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Let the view run for a valid API token or a logged-in session; otherwise answer 401 JSON."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        if header:
            user = _token_user(header)
            if user is None:
                return JsonResponse({"error": _("Invalid API token.")}, status=401)
            request.user = user
        elif not request.user.is_authenticated:
            return JsonResponse(
                {"error": _("Authentication required: send 'Authorization: Token <key>' or log in.")}, status=401
            )
        elif _csrf_failure(request) is not None:
            return JsonResponse({"error": _("CSRF check failed for a session-authenticated request.")}, status=403)
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapper)
