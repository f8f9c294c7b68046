"""Who may open which URL: one rule per URL name, enforced by RoleAccessMiddleware for every view.

A URL without a rule is refused to everyone but superusers (fail closed), and the test in
tests/security/test_url_access.py walks every URL of the URLconf for every role, so a new view
cannot ship unguarded. The admin keeps its own checks (staff status, then each model permission),
except its RQ dashboard, which is for superusers only. The JSON API authenticates inside the view
(API tokens), so `supermarket.auth.api_auth` applies the same rule once it knows the user.

A user's permissions are read once per worker and kept (Django's own cache lasts one request),
so a scan or a sale through the API costs no permission query; user and group changes drop them.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import ResolverMatch
from django.utils.translation import gettext as _

from supermarket.localcache import GenerationCache
from supermarket.middleware import API_PREFIX

logger = logging.getLogger(__name__)


def _own_sale(user, kwargs: dict) -> bool:
    from checkout.models import Sale

    # Not someone else's: a number that matches no sale goes on to the view's own "not found".
    return not Sale.objects.filter(number=kwargs.get("number")).exclude(cashier=user).exists()


def _own_shift(user, kwargs: dict) -> bool:
    from checkout.models import Shift

    # The cashier who closed it prints its Z-report, also when the morning's cashier opened it.
    return not Shift.objects.filter(pk=kwargs.get("pk")).exclude(Q(opened_by=user) | Q(closed_by=user)).exists()


@dataclass(frozen=True)
class Rule:
    any_of: tuple[str, ...] = ()  # holding any one of these permissions is enough
    public: bool = False
    superuser: bool = False
    delegated: bool = False  # the view does its own checks (the admin)
    api: bool = False  # answer JSON 401/403, never a login redirect
    own: Callable[..., bool] | None = None  # without the permission, allowed for the user's own object

    def allows(self, user, kwargs: dict) -> bool:
        if self.public or user.is_superuser:
            return True
        if self.superuser or not user.is_active:
            return False
        # The worker's permission set (load_permissions), where loaded: what ModelBackend.has_perm reads, without
        # its walk over every authentication backend.
        held = getattr(user, "_perm_cache", None)
        has_perm = held.__contains__ if held is not None else user.has_perm
        if any(has_perm(perm) for perm in self.any_of):
            return True
        return self.own is not None and self.own(user, kwargs)


PUBLIC = Rule(public=True)
SUPERUSER = Rule(superuser=True)
ADMIN = Rule(delegated=True)


def perm(*any_of: str, own: Callable[..., bool] | None = None, api: bool = False) -> Rule:
    return Rule(any_of=any_of, own=own, api=api)


TILL = perm("checkout.add_sale")
RECEIVING = perm("stock.add_receipt")
COUNTING = perm("stock.add_countentry")
REPORTS = perm("reports.view_salesdaily")

URL_RULES: dict[str, Rule] = {
    "home": PUBLIC,
    "healthz": PUBLIC,
    "readyz": PUBLIC,
    "metrics": PUBLIC,  # guarded by network and bearer token in supermarket.metrics
    "set_language": PUBLIC,
    # JSON API
    "catalog:scan": perm("checkout.add_sale", "stock.add_receipt", "stock.add_countentry", api=True),
    "checkout-api:product-detail": perm("catalog.view_product", api=True),
    "checkout-api:sale-create": perm("checkout.add_sale", api=True),
    "checkout-api:sale-detail": perm("checkout.view_sale", own=_own_sale, api=True),
    "checkout-api:openapi": PUBLIC,
    # The till
    "checkout:login": PUBLIC,
    "checkout:logout": PUBLIC,
    "checkout:till": TILL,
    "checkout:register-choose": TILL,
    "checkout:scan": TILL,
    "checkout:add-product": TILL,
    "checkout:line-quantity": TILL,
    "checkout:line-void": TILL,
    "checkout:hold": TILL,
    "checkout:recall": TILL,
    "checkout:cancel": TILL,
    "checkout:pay": TILL,
    "checkout:shift-open": TILL,
    "checkout:shift-close": TILL,
    "checkout:return": TILL,  # the manager approves on the cashier's screen
    "checkout:override": TILL,  # likewise
    "checkout:receipt": perm("checkout.view_sale", own=_own_sale),
    "checkout:shift-report": perm("checkout.view_shift", own=_own_shift),
    "checkout:override-list": perm("supermarket.view_manageroverride"),
    # Back store
    "stock:home": perm("stock.view_stocklevel"),
    "stock:receiving-list": RECEIVING,
    "stock:receiving-start": RECEIVING,
    "stock:receipt-detail": RECEIVING,
    "stock:receipt-scan": RECEIVING,
    "stock:receipt-post": RECEIVING,
    "stock:receipt-line-update": RECEIVING,
    "stock:receipt-discard": RECEIVING,
    "stock:count-list": COUNTING,
    "stock:count-detail": COUNTING,
    "stock:count-add": COUNTING,
    "stock:count-undo": COUNTING,
    "stock:count-review": perm("stock.change_countsession"),
    "stock:count-post": perm("stock.change_countsession"),
    "stock:replenishment": perm("stock.change_replenishmentsuggestion"),
    "stock:replenishment-order": perm("stock.add_purchaseorder"),
    "stock:suggestion-dismiss": perm("stock.change_replenishmentsuggestion"),
    "stock:near-expiry": perm("stock.view_lot"),
    "stock:expired-write-off": perm("stock.add_writeoff"),
    "stock:transfer-new": perm("stock.add_transfer"),
    "stock:write-off-new": perm("stock.add_writeoff"),
    # Reports and their jobs
    "reports:index": REPORTS,
    "reports:report": REPORTS,
    "reports:forecast": REPORTS,
    "reports:jobs": perm("reports.add_jobrun"),
    "reports:job-detail": perm("reports.view_jobrun"),
    "reports:job-retry": perm("reports.change_jobrun"),
    "reports:job-download": perm("reports.view_jobrun"),
    "reports:report-export": perm("reports.add_jobrun"),
}


def rule_for(match: ResolverMatch) -> Rule | None:
    """The rule for a resolved URL; None when it has none (then only superusers pass)."""
    if "admin" in match.namespaces:
        # The RQ dashboard can empty, requeue and stop any job of any queue: administration, not store work.
        return SUPERUSER if match.route.startswith("admin/django_rq/") else ADMIN
    return URL_RULES.get(match.view_name)


# User id -> permission set, kept per worker like the API tokens (supermarket.auth): a scan or a sale through
# the API costs no permission query. Any change of a user, a group's members or permissions drops every
# worker's sets when it commits.
permission_sets = GenerationCache("permissions", maxsize=10_000)


def load_permissions(user) -> None:
    """Give the user object its permission set where ModelBackend.has_perm looks for it."""
    if not user.is_authenticated or user.is_superuser or hasattr(user, "_perm_cache"):
        return
    user._perm_cache = permission_sets.get(user.pk, lambda: frozenset(user.get_all_permissions()))


def _permissions_changed(sender=None, action: str = "post_", **kwargs) -> None:
    if action.startswith("post_"):
        permission_sets.changed()


def connect_cache_invalidation() -> None:
    user_model = get_user_model()
    post_save.connect(_permissions_changed, sender=user_model, dispatch_uid="access-user")
    post_delete.connect(_permissions_changed, sender=Group, dispatch_uid="access-group")
    for through in (user_model.groups.through, user_model.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(_permissions_changed, sender=through, dispatch_uid=f"access-{through._meta.label}")


def api_denied(request: HttpRequest, kwargs: dict) -> JsonResponse | None:
    """For API views once the user is known: None if allowed, else the 403 answer."""
    match = request.resolver_match
    rule = rule_for(match) if match else None
    load_permissions(request.user)
    if rule is not None and rule.allows(request.user, kwargs):
        return None
    return JsonResponse({"error": _("Your role does not allow this.")}, status=403)


def _renew_session(request: HttpRequest) -> None:
    """Idle timeout: a logged-in session is saved (and so its expiry moved SESSION_COOKIE_AGE ahead) once a
    minute, rather than on every request, which would cost the till one write per scan."""
    session = getattr(request, "session", None)
    if session is None or SESSION_KEY not in session:
        return
    minute = int(time.time()) // 60
    if session.get("active_minute") != minute:
        session["active_minute"] = minute


class RoleAccessMiddleware:
    """Checks the URL's rule before any view runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        _renew_session(request)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        match = request.resolver_match
        rule = rule_for(match)
        if rule is None:
            logger.error("no access rule for URL %s: refused", match.view_name)
            rule = SUPERUSER
        if rule.public or rule.delegated:
            return None
        user = request.user
        # META, not request.headers: that would build a dictionary of every header on each API call.
        if rule.api and ("HTTP_AUTHORIZATION" in request.META or not user.is_authenticated):
            return None  # api_auth checks the token's user; an anonymous call gets the view's own 401
        if not user.is_authenticated:
            # The admin's login refuses accounts without staff status (cashiers, stock clerks): only the admin's own
            # pages send there; every other page goes to settings.LOGIN_URL, which lets any active user in.
            return redirect_to_login(request.get_full_path(), "admin:login" if "admin" in match.namespaces else None)
        load_permissions(user)
        if rule.allows(user, view_kwargs):
            return None
        if rule.api or request.path_info.startswith(API_PREFIX):  # also an API URL without a rule: JSON, not a page
            return JsonResponse({"error": _("Your role does not allow this.")}, status=403)
        raise PermissionDenied(_("Your role does not allow this page."))
