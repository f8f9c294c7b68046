"""Settings for the supermarket system.

Everything comes from the environment (see .env.example). With nothing set
the system runs on the embedded default: a SQLite file, a local-memory cache
and background jobs run inline. DATABASE_URL=postgres://... and
REDIS_URL=redis://... give the production shape.
"""

import ipaddress
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from supermarket.env import env  # an empty variable (NAME= in .env) counts as unset, everywhere below

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str = "False") -> bool:
    value = env(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def envint(name: str, default: str) -> int:
    value = env(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG")
DATABASE_URL = env("DATABASE_URL", "")
REPLICA_DATABASE_URL = env("REPLICA_DATABASE_URL", "")
REDIS_URL = env("REDIS_URL", "")
EMBEDDED = not DATABASE_URL

SECRET_KEY = env("SECRET_KEY", "")
if not SECRET_KEY:
    if not (EMBEDDED or DEBUG):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production (DATABASE_URL set, DEBUG off) refuses to start "
            "without it; generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = "embedded-demo-only-not-secret"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # django.contrib.admin, with spreadsheet formats loaded on first use (keeps openpyxl out of web workers)
    "supermarket.admin_app.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_rq",
    "import_export",
    "simple_history",
    "catalog",
    "stock",
    "checkout",
    "reports",
    "supermarket",
    "axes",
]

MIDDLEWARE = [
    "supermarket.logs.RequestLogMiddleware",
    # A lost database connection becomes 503 + Retry-After (clients repeat with the same token).
    "supermarket.unavailable.DatabaseUnavailableMiddleware",
    "supermarket.unavailable.BodyTooLargeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Its check runs before the access rules', which look sales up by the number in the URL.
    "supermarket.unavailable.NulRefusedMiddleware",
    "supermarket.access.RoleAccessMiddleware",
    # PAGE_MIDDLEWARE, for every path but the JSON API's.
    "supermarket.middleware.PagesOnly",
]

# What only HTML pages need; the JSON API under /api/ answers without it (supermarket/middleware.py).
PAGE_MIDDLEWARE = [
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, so that it sees the login views' answers (django-axes).
    "axes.middleware.AxesMiddleware",
]
# The admin's, django-axes's and Django's clickjacking checks look for their middleware in MIDDLEWARE only;
# supermarket.E001 looks in both lists.
SILENCED_SYSTEM_CHECKS = ["admin.E409", "axes.W002", "security.W002"]

ROOT_URLCONF = "supermarket.urls"
WSGI_APPLICATION = "supermarket.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# Databases -----------------------------------------------------------------
if EMBEDDED:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
else:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=envint("CONN_MAX_AGE", "60"), conn_health_checks=True
        )
    }
    if REPLICA_DATABASE_URL:
        DATABASES["replica"] = dj_database_url.parse(
            REPLICA_DATABASE_URL, conn_max_age=envint("CONN_MAX_AGE", "60"), conn_health_checks=True
        )
        DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
        # Reads stay on the primary this long after a browser wrote (read-your-writes across a redirect).
        REPLICA_PIN_SECONDS = envint("REPLICA_PIN_SECONDS", "10")
        DATABASE_ROUTERS = ["supermarket.db_router.PrimaryReplicaRouter"]
        MIDDLEWARE.insert(0, "supermarket.db_router.PrimaryPinMiddleware")
    # Without a health check a connection PostgreSQL dropped fails one request per worker, and the next one
    # reconnects. Our backend checks a quiet connection without a round trip (supermarket/postgresql/base.py).
    for _database in DATABASES.values():
        _database["CONN_HEALTH_CHECKS"] = envbool("CONN_HEALTH_CHECKS", "True")
        if _database["ENGINE"] == "django.db.backends.postgresql":
            _database["ENGINE"] = "supermarket.postgresql"
        # Parameters sent apart from the SQL, and a statement run five times on a connection prepared there: no
        # quoting of values in Python and no parse or plan per statement. Off (DATABASE_SERVER_SIDE_BINDING=false)
        # behind a connection pooler in transaction mode, which cannot keep prepared statements.
        if envbool("DATABASE_SERVER_SIDE_BINDING", "True"):
            _database.setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache and background jobs ---------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "sm"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without Redis, jobs run inline after commit (supermarket.jobs.enqueue); RQ's
# own synchronous mode still wants a Redis connection, so it is not used here.
JOBS_INLINE = not REDIS_URL
RQ_QUEUES = {
    name: {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": timeout}
    for name, timeout in (("default", 600), ("reports", 1800), ("forecasts", 3600))
}
# The worker class times every job (supermarket_job_seconds) and tags its log lines with the job's fields.
RQ = {"COMMIT_MODE": "auto", "WORKER_CLASS": "supermarket.worker.Worker"}
# Periodic jobs (supermarket/schedule.py, run by the one `scheduler` process): cron fields in TIME_ZONE.
FORECAST_SCHEDULE = env("FORECAST_SCHEDULE", "0 3 * * *")
SESSIONS_CLEAR_SCHEDULE = env("SESSIONS_CLEAR_SCHEDULE", "30 4 * * *")

# Auth --------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The till's login lets in any active user; the admin's (for the admin alone) refuses accounts without staff status.
LOGIN_URL = "checkout:login"
# django-axes counts failed logins per user name and address and refuses further tries for a while.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "supermarket.auth.CachedModelBackend"]
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = envint("AXES_COOLOFF_MINUTES", "15") / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address is the client's, not the reverse proxy's (which would lock a name out at every till at once).
AXES_CLIENT_IP_CALLABLE = "supermarket.clientip.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "security/locked_out.html"
AXES_ENABLED = envbool("AXES_ENABLED", "True")
SESSION_ENGINE = "supermarket.sessions"  # database sessions, read through the worker's cache
# Browser sessions end this long after the last request (a till left logged in locks itself);
# supermarket.access.RoleAccessMiddleware renews a session at most once a minute.
SESSION_COOKIE_AGE = envint("SESSION_IDLE_MINUTES", "30") * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Exports from the admin need the model's view permission, like the list they come from.
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
LOGIN_REDIRECT_URL = "/"

# Language, time and money --------------------------------------------------------
LANGUAGE_CODE = env("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True
# The till remembers the cashier's language past logout and browser restarts (the session does not).
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
CURRENCY_SYMBOL = "¥"

# Static files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_AUTOREFRESH = DEBUG
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "supermarket.storage.StaticStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))

# Production hardening (values only; the shape is the same everywhere) ---------------
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "False")
# Probes and scrapes call the process directly over plain HTTP (compose healthcheck, load balancer, Prometheus):
# a redirect to https would fail all three. The paths as SecurityMiddleware matches them, without the leading /.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", "False")
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", "False")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0")
# No SECURE_PROXY_SSL_HEADER: Django would take X-Forwarded-Proto from any client. gunicorn sets the scheme from it
# only for a request from TRUSTED_PROXIES (forwarded_allow_ips, supermarket/gunicorn.conf.py).
# Reverse proxies (addresses or networks) whose X-Forwarded-For names the client (supermarket.clientip); empty:
# none, the client is REMOTE_ADDR. Used by login throttling and the /metrics allow-list.
TRUSTED_PROXIES = envlist("TRUSTED_PROXIES", "")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES must list addresses or networks, got {_proxy!r}") from None
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "False")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "False")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy: scripts and styles only from our own static files (htmx is vendored; its
# indicator <style> and hx-on eval are switched off in base.html's htmx-config), nothing framed, no plugins.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Domain settings ----------------------------------------------------------------------
# May a sale take on-hand below zero? The default refuses with a clear message.
STOCK_ALLOW_NEGATIVE_SALES = envbool("STOCK_ALLOW_NEGATIVE_SALES", "False")
# Days between two orders to the same supplier: replenishment orders cover lead time plus this.
STOCK_REVIEW_PERIOD_DAYS = envint("STOCK_REVIEW_PERIOD_DAYS", "7")
# Store-assigned codes (loose produce, PLU numbers) accepted besides GTINs.
CATALOG_STORE_CODE_REGEX = env("CATALOG_STORE_CODE_REGEX", r"^(?:\d{4,5}|[A-Z]{1,3}\d{1,9})$")
# Supplier catalog uploads larger than this (bytes) are previewed and imported by an RQ job.
CATALOG_IMPORT_INLINE_MAX_BYTES = envint("CATALOG_IMPORT_INLINE_MAX_BYTES", "1000000")
# Largest supplier catalog accepted at all (the admin form refuses bigger files with their size).
CATALOG_IMPORT_MAX_BYTES = envint("CATALOG_IMPORT_MAX_BYTES", str(50 * 1000 * 1000))
# GS1 variable-measure layouts by two-digit prefix (20-29). Each says what the
# value digits carry: "price" (yuan) or "weight" (kg), and where they stand.
CATALOG_VARIABLE_MEASURE = {
    "20": {"kind": "price", "item": (2, 7), "value": (7, 12), "decimals": 2},
    "21": {"kind": "price", "item": (2, 7), "value": (7, 12), "decimals": 2},
    "22": {"kind": "price", "item": (2, 7), "value": (7, 12), "decimals": 2},
    "23": {"kind": "weight", "item": (2, 7), "value": (7, 12), "decimals": 3},
    "24": {"kind": "weight", "item": (2, 7), "value": (7, 12), "decimals": 3},
    "25": {"kind": "weight", "item": (2, 7), "value": (7, 12), "decimals": 3},
    "28": {"kind": "price", "item": (2, 7), "value": (7, 12), "decimals": 2},
    "29": {"kind": "weight", "item": (2, 7), "value": (7, 12), "decimals": 3},
}
DEFAULT_TAX_RATE = Decimal("13.00")
# Camera scanning (catalog.scanning, pixels in catalog.decoding): refused before decoding when the file or
# its pixel count (read from the header) is over the limit; large photos are
# reduced to SCAN_WORK_SIDE on their long side; the decoding cascade stops
# after SCAN_TIME_BUDGET_MS of CPU time. The pixel limit depends on what decoding costs (catalog.decoding.pixel_limit):
# SCAN_MAX_PIXELS for images decoded whole (PNG, BMP, GIF, progressive JPEG; WebP a quarter of it), at 3-5 bytes a
# pixel within a web worker's memory budget; a baseline JPEG, decoded at 1/2-1/8 scale, may have SCAN_MAX_JPEG_PIXELS
# (at most 178 million, Pillow's own limit).
SCAN_MAX_BYTES = envint("SCAN_MAX_BYTES", str(8 * 1024 * 1024))
SCAN_MAX_PIXELS = envint("SCAN_MAX_PIXELS", "6000000")
SCAN_MAX_JPEG_PIXELS = envint("SCAN_MAX_JPEG_PIXELS", "120000000")
SCAN_WORK_SIDE = envint("SCAN_WORK_SIDE", "1600")
SCAN_TIME_BUDGET_MS = envint("SCAN_TIME_BUDGET_MS", "1500")
# Product lookups each web worker keeps for the scan path (catalog.cache); about 2 KB each, so 5,000 is ~10 MB.
SCAN_CACHE_SIZE = envint("SCAN_CACHE_SIZE", "5000")

# Metrics: scrapes are allowed from these networks, or anywhere with "Authorization: Bearer <METRICS_TOKEN>".
METRICS_TOKEN = env("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = envlist("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128")

LOG_FORMAT = env("LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "supermarket.logs.JSONFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {"job": {"()": "supermarket.logs.JobFieldsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["job"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Each request is logged once, as JSON, by supermarket.logs.RequestLogMiddleware.
        "django.server": {"level": "WARNING"},
        "supermarket.request": {"level": env("REQUEST_LOG_LEVEL", "INFO")},
    },
}
