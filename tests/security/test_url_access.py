"""Every URL of the URLconf, walked by every role: the set of roles let in must be exactly the expected one.

The walk is built from get_resolver(), so a new URL is walked as soon as it exists, and a URL with no
expectation below fails the test until someone decides who may open it. Admin model pages are expected
from each role's model permissions (supermarket/roles.py) and the ModelAdmin's own limits (read-only admins).
"""

import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from supermarket.roles import BUYER, CASHIER, MANAGER, STOCK_CLERK, user_set_role
from tests.security.conftest import PASSWORD, ROLE_NAMES

pytestmark = pytest.mark.django_db

SU = "superuser"
ANON = "anonymous"
EVERYONE = {ANON, SU, *ROLE_NAMES}
TILL = {CASHIER, MANAGER, SU}
RECEIVING = {STOCK_CLERK, MANAGER, SU}
BUYING = {BUYER, MANAGER, SU}
MANAGEMENT = {MANAGER, SU}

EXPECTED = {
    "home": EVERYONE,
    "healthz": EVERYONE,
    "readyz": EVERYONE,
    "metrics": EVERYONE,  # by network or bearer token, not by role (the test client is 127.0.0.1)
    "set_language": EVERYONE,
    "catalog:scan": {CASHIER, STOCK_CLERK, MANAGER, SU},
    "checkout-api:product-detail": {CASHIER, STOCK_CLERK, BUYER, MANAGER, SU},
    "checkout-api:sale-create": TILL,
    "checkout-api:sale-detail": TILL,  # the cashier's own sale
    "checkout-api:openapi": EVERYONE,
    "checkout:login": EVERYONE,
    "checkout:logout": EVERYONE,
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
    "checkout:return": TILL,
    "checkout:override": TILL,
    "checkout:receipt": TILL,  # the cashier's own sale
    "checkout:shift-report": TILL,  # the cashier's own shift
    "checkout:override-list": MANAGEMENT,
    "stock:home": {STOCK_CLERK, BUYER, MANAGER, SU},
    "stock:receiving-list": RECEIVING,
    "stock:receiving-start": RECEIVING,
    "stock:receipt-detail": RECEIVING,
    "stock:receipt-scan": RECEIVING,
    "stock:receipt-post": RECEIVING,
    "stock:receipt-line-update": RECEIVING,
    "stock:receipt-discard": RECEIVING,
    "stock:count-list": RECEIVING,
    "stock:count-detail": RECEIVING,
    "stock:count-add": RECEIVING,
    "stock:count-undo": RECEIVING,
    "stock:count-review": RECEIVING,
    "stock:count-post": RECEIVING,
    "stock:replenishment": BUYING,
    "stock:replenishment-order": BUYING,
    "stock:suggestion-dismiss": BUYING,
    "stock:near-expiry": {STOCK_CLERK, BUYER, MANAGER, SU},
    "stock:expired-write-off": MANAGEMENT,
    "stock:transfer-new": RECEIVING,
    "stock:write-off-new": MANAGEMENT,
    "reports:index": MANAGEMENT,
    "reports:report": MANAGEMENT,
    "reports:forecast": MANAGEMENT,
    "reports:jobs": MANAGEMENT,
    "reports:job-detail": MANAGEMENT,
    "reports:job-retry": MANAGEMENT,
    "reports:job-download": MANAGEMENT,
    "reports:report-export": MANAGEMENT,
    "admin:login": EVERYONE,
    "admin:logout": EVERYONE,
    "admin:index": {BUYER, MANAGER, SU},
    "admin:password_change": {BUYER, MANAGER, SU},
    "admin:password_change_done": {BUYER, MANAGER, SU},
    "admin:jsi18n": {BUYER, MANAGER, SU},
    "admin:view_on_site": {BUYER, MANAGER, SU},
    "admin:auth_user_password_change": {SU},
    "admin:catalog_product_import": BUYING,
    "admin:catalog_product_process_import": BUYING,
    "admin:catalog_product_import_status": BUYING,
    "admin:catalog_product_import_errors": BUYING,
    "admin:catalog_product_export": BUYING,
    "admin:stock_stocklevel_export": {BUYER, MANAGER, SU},  # stock clerks have no admin
}
# Not walked, with the reason.
NOT_WALKED = {
    "admin:autocomplete": "answers 403 to a request without a configured autocomplete field, for everyone",
    "admin:django_rq_scheduler_jobs": "django-rq raises ImproperlyConfigured without the optional rq-scheduler",
}
MODEL_URL = re.compile(
    r"^admin:(?P<app>\w+?)_(?P<model>[a-z0-9]+)_(?P<page>changelist|add|change|delete|history|simple_history)$"
)
LOGIN_PATHS = ("/admin/login/", "/checkout/login/")


def walk(resolver=None, prefix: str = "", namespace: str = ""):
    """(view name, pattern, converters/regex source) for every named URL; unnamed ones are listed by route."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = ":".join(n for n in (namespace, entry.namespace) if n)
            yield from walk(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, prefix + str(entry.pattern), entry


def type_name(converter) -> str:
    return type(converter).__name__.removesuffix("Converter").lower()


def model_admin_for(app: str, model: str):
    for registered, model_admin in admin.site._registry.items():
        if registered._meta.app_label == app and registered._meta.model_name == model:
            return model_admin
    return None


def admin_model_expectation(users, app: str, model: str, page: str) -> set[str]:
    """Who the admin must let onto a model page: staff with the page's permission, within the ModelAdmin's limits."""
    model_admin = model_admin_for(app, model)
    needed = {
        "changelist": ("view", "change"),
        "change": ("view", "change"),
        "history": ("view", "change"),
        "simple_history": ("view", "change"),
        "add": ("add",),
        "delete": ("delete",),
    }[page]
    request = RequestFactory().get("/")
    request.user = users[SU]
    check = {"add": model_admin.has_add_permission, "delete": model_admin.has_delete_permission}.get(
        page, model_admin.has_view_or_change_permission
    )
    if not check(request):
        return set()  # read-only admin: nobody, superusers included
    allowed = {SU}
    for role in ROLE_NAMES:
        user = users[role]
        if user.is_staff and any(user.has_perm(f"{app}.{action}_{model}") for action in needed):
            allowed.add(role)
    return allowed


def sample_args(name: str, pattern: URLPattern, store) -> dict | list:
    """Values for the URL's parameters: real rows where the answer depends on the row, else values that match none."""
    special = {
        "checkout-api:sale-detail": {"number": store["sale"].number},
        "checkout:receipt": {"number": store["sale"].number},
        "checkout:shift-report": {"pk": store["shift"].pk},
        "checkout-api:product-detail": {"code": store["product"].barcode},
    }
    if name in special:
        return special[name]
    match = MODEL_URL.match(name)
    # django-rq's dashboard is a model without a table: its pages are walked with made-up values.
    model_admin = match and not name.startswith("admin:django_rq") and model_admin_for(match["app"], match["model"])
    if model_admin and (match["page"] == "simple_history" or "object_id" in pattern.pattern.converters):
        obj = model_admin.model._default_manager.first()
        assert obj is not None, f"add a {model_admin.model.__name__} to the store fixture so {name} is walked"
        if match["page"] == "simple_history":
            return [obj.pk, obj.history.first().history_id]
        return {"object_id": obj.pk}
    kwargs = {}
    for key, converter in pattern.pattern.converters.items():
        # No such row (the rule is checked before the lookup), except the RQ dashboard's first queue.
        number = 0 if name.startswith("admin:django_rq") else 999999
        kwargs[key] = number if converter.regex == "[0-9]+" else "x"
    return kwargs


def reverse_with(name: str, values: dict | list) -> str:
    return reverse(name, args=values) if isinstance(values, list) else reverse(name, kwargs=values)


def denied(response) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and response.url.split("?")[0] in LOGIN_PATHS


def visit(user, url: str):
    client = Client()
    if user is not None:
        client.force_login(user)
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url)
    return response


def walk_targets(users, store):
    """(view name, url, expected roles) for every URL of the URLconf."""
    for name, route, pattern in walk():
        if name in NOT_WALKED:
            continue
        if name is None or name.startswith("admin:None"):
            # Unnamed: the admin's old object URLs (a redirect to the named change page) and its catch-all.
            assert route.startswith("admin/"), f"URL {route} has no name: name it and give it an expectation"
            continue
        if name == "admin:app_list":
            for app in sorted({m._meta.app_label for m in admin.site._registry}):
                allowed = {SU} | {
                    r
                    for r in ROLE_NAMES
                    if users[r].is_staff and any(p.startswith(f"{app}.") for p in users[r].get_all_permissions())
                }
                yield f"admin:app_list[{app}]", reverse(name, kwargs={"app_label": app}), allowed
            continue
        if name.startswith("admin:django_rq"):
            if "^" in str(pattern.pattern) or {"string", "path"} & set(
                map(type_name, pattern.pattern.converters.values())
            ):
                # Its regex-in-route URLs cannot be reversed and a made-up job id is a 500 inside django-rq;
                # the rule is by URL prefix, so the dashboard's other pages show it holds.
                continue
            dashboard = MODEL_URL.match(name)
            # Its dashboard "model" pages follow the ModelAdmin (no adding, even for superusers).
            expected = admin_model_expectation(users, *dashboard.group("app", "model", "page")) if dashboard else {SU}
            yield name, reverse_with(name, sample_args(name, pattern, store)), expected & {SU}
            continue
        match = MODEL_URL.match(name)
        if match and name not in EXPECTED and model_admin_for(match["app"], match["model"]):
            expected = admin_model_expectation(users, match["app"], match["model"], match["page"])
        else:
            assert name in EXPECTED, f"no expectation for URL {name} ({route}): add it to EXPECTED"
            expected = EXPECTED[name]
        yield name, reverse_with(name, sample_args(name, pattern, store)), expected


@pytest.mark.parametrize("role", [ANON, CASHIER, STOCK_CLERK, BUYER, MANAGER, SU])
def test_each_role_reaches_exactly_its_urls(role, users, store):
    wrong = []
    walked = 0
    for name, url, expected in walk_targets(users, store):
        response = visit(users[role], url)
        if name.startswith("admin:app_list"):
            # The admin answers 404 for an app in which the user may see no model.
            got = not (denied(response) or response.status_code == 404)
        elif name.endswith(":logout"):
            got = response.status_code in (200, 302)  # logging out ends on the login page, for anyone
        else:
            got = not denied(response)
        walked += 1
        if got != (role in expected):
            wrong.append(f"{name} {url}: {'let in' if got else 'refused'} ({response.status_code})")
    assert walked > 150
    assert not wrong, f"{role}:\n" + "\n".join(wrong)


def test_every_access_rule_names_a_url():
    from supermarket.access import URL_RULES

    names = {name for name, _route, _pattern in walk()}
    assert set(URL_RULES) - names == set()


def test_a_url_without_a_rule_is_refused_to_all_but_superusers(users, rf):
    from django.urls import ResolverMatch

    from supermarket.access import SUPERUSER, rule_for

    match = ResolverMatch(lambda r: None, (), {}, url_name="new-page", app_names=["checkout"], namespaces=["checkout"])
    assert rule_for(match) is None  # and RoleAccessMiddleware then uses:
    assert not SUPERUSER.allows(users[MANAGER], {})
    assert SUPERUSER.allows(users[SU], {})


def test_a_sale_number_with_spaces_is_no_way_round_the_own_sale_rule(users, store):
    other = get_user_model().objects.create_user("cashier2", password=PASSWORD)
    user_set_role(user=other, role=CASHIER)
    client = Client()
    client.force_login(other)
    number = store["sale"].number
    assert denied(client.get(reverse("checkout-api:sale-detail", args=[number])))
    for url in (
        reverse("checkout-api:sale-detail", args=[f"{number} "]),
        reverse("checkout:receipt", args=[f" {number}"]),
    ):
        response = client.get(url)
        assert response.status_code in (401, 403, 404), url
        assert store["sale"].client_token.hex not in response.content.decode().replace("-", "")
