"""Authentication: the JSON API's `Authorization: Token <key>` or a logged-in browser session, and the session's
user read through the worker's cache."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.backends import ModelBackend
from django.db.models.base import ModelState
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from supermarket.access import api_denied
from supermarket.localcache import GenerationCache

# Token -> user, kept per worker: the scan path answers without a database query for authentication.
# Saving or deleting any token or user (revoking, deactivating) drops every worker's entries on commit.
tokens = GenerationCache("api-tokens", maxsize=10_000)
# User id -> user, kept per worker for logged-in sessions (the till, the back office), dropped the same way.
users = GenerationCache("users", maxsize=10_000)


class CachedModelBackend(ModelBackend):
    """Django's ModelBackend, whose session user comes from the worker's cache: a till scan reads no user row.
    Deactivating, editing or deleting a user drops every worker's users when it commits."""

    def get_user(self, user_id):
        user = users.get(user_id, lambda: super(CachedModelBackend, self).get_user(user_id))
        return _request_copy(user) if user is not None else None


def _token_user(header: str):
    from checkout.models import ApiToken  # the token model lives with its main user, the sales API

    scheme, _sep, key = header.partition(" ")
    if scheme.lower() != "token" or not key.strip():
        return None
    key = key.strip()
    user = tokens.get(key, lambda: _user_for_key(ApiToken, key))
    return _request_copy(user) if user is not None else None


def _request_copy(user):
    """The cached user for one request: permission caches filled while serving it never outlive it. Its fields
    are copied as copy.copy would copy them, at a tenth of the cost (no pickling protocol); the user's related
    objects cache is its own (Model.__getstate__ does the same)."""
    state = object.__new__(ModelState)
    state.__dict__.update(user._state.__dict__)
    state.__dict__.pop("peers", None)
    state.fields_cache = dict(user._state.fields_cache)
    clone = object.__new__(type(user))
    clone.__dict__.update(user.__dict__)
    clone._state = state
    return clone


def _user_for_key(token_model, key: str):
    token = token_model.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


def api_tokens_changed(sender=None, **kwargs) -> None:
    """Receiver for token and user saves and deletes (connected in checkout's AppConfig.ready)."""
    tokens.changed()
    users.changed()


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
        header = request.META.get("HTTP_AUTHORIZATION", "")  # not request.headers, built whole on first use
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
        # The URL's role rule (supermarket.access), now that the token's user is known.
        denied = api_denied(request, kwargs)
        if denied is not None:
            return denied
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapper)
