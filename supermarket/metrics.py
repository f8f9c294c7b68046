"""Prometheus metrics: HTTP, database and business figures, one registry for the whole process.

Under gunicorn, PROMETHEUS_MULTIPROC_DIR (set by supermarket/gunicorn.conf.py) makes
counters and histograms from every worker add up in one exposition. Figures that
live in the database or Redis (open suggestions, products below safety stock,
queue depth, background job durations) are read at scrape time, so every worker reports the same truth.
"""

import hmac
import ipaddress
import json
import logging
import os
import time

from django.conf import settings
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from supermarket.clientip import client_ip

logger = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

http_requests = Counter(
    "supermarket_http_requests", "HTTP requests by view, method and status", ["view", "method", "status"]
)
http_latency = Histogram(
    "supermarket_http_request_seconds", "HTTP request latency by view", ["view"], buckets=LATENCY_BUCKETS
)
db_queries = Histogram(
    "supermarket_db_queries_per_request",
    "Database queries per request",
    ["view"],
    buckets=(0, 1, 2, 3, 5, 8, 13, 21, 50, 100),
)
sales = Counter("supermarket_sales", "Completed sales by register", ["register"])
sales_amount = Counter("supermarket_sales_amount_yuan", "Completed sales amount in yuan by register", ["register"])
scans = Counter("supermarket_scans", "Codes scanned at tills and on the API", ["outcome"])
scan_to_line = Histogram(
    "supermarket_scan_to_line_seconds",
    "From a scan reaching the server to its line being rendered",
    buckets=LATENCY_BUCKETS,
)
failed_lookups = Counter("supermarket_failed_lookups", "Scanned codes that found no sellable product", ["reason"])

# Background job durations are kept in Redis, not in a prometheus_client Histogram: jobs run in rqworker
# processes (any host, one forked work horse per job) that Prometheus does not scrape and whose samples
# would never reach the web's multiprocess directory. The worker adds each job to these counters
# (supermarket.jobs.job_observed) and every web process reads them at scrape time, like the queue depth.
JOB_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 1800, float("inf"))
JOB_SECONDS_KEY = "supermarket:metrics:job_seconds"
_inline_job_seconds: dict[str, float] = {}  # without Redis (jobs inline), the process's own counters


def _bucket_name(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def job_seconds_observe(*, job: str, queue: str, outcome: str, seconds: float, connection=None) -> None:
    """Count one finished job in the supermarket_job_seconds histogram: in Redis (`connection`) or, inline, here."""
    labels = [job, queue, outcome]
    increments = {json.dumps([*labels, _bucket_name(b)]): 1 for b in JOB_BUCKETS if seconds <= b}
    total = json.dumps([*labels, "sum"])
    if connection is None:
        for field, step in (*increments.items(), (total, seconds)):
            _inline_job_seconds[field] = _inline_job_seconds.get(field, 0) + step
        return
    with connection.pipeline() as pipe:  # MULTI/EXEC: a scrape never sees half a job
        for field in increments:
            pipe.hincrby(JOB_SECONDS_KEY, field, 1)
        pipe.hincrbyfloat(JOB_SECONDS_KEY, total, seconds)
        pipe.execute()


def job_seconds_family(values: dict) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "supermarket_job_seconds",
        "Background job duration by task (the job's function), queue and outcome",
        labels=["task", "queue", "outcome"],
    )
    series: dict[tuple, dict[str, float]] = {}
    for field, value in values.items():
        *labels, name = json.loads(field)
        series.setdefault(tuple(labels), {})[name] = float(value)
    for labels, counts in sorted(series.items()):
        buckets = [(_bucket_name(b), counts.get(_bucket_name(b), 0.0)) for b in JOB_BUCKETS]
        family.add_metric(list(labels), buckets, sum_value=counts.get("sum", 0.0))
    return family


def sale_recorded(*, register: str, total) -> None:
    sales.labels(register).inc()
    sales_amount.labels(register).inc(float(total))


def scan_recorded(*, outcome: str, started: float | None = None) -> None:
    """A scan and how it ended: "line" (with its scan-to-line time), "search", or a failed lookup's reason."""
    scans.labels(outcome).inc()
    if outcome == "line" and started is not None:
        scan_to_line.observe(time.perf_counter() - started)
    elif outcome in FAILED_LOOKUPS:
        failed_lookups.labels(outcome).inc()


FAILED_LOOKUPS = ("unknown", "invalid", "inactive", "no_stock", "no_match")


class StoreCollector:
    """Figures read from the database of record and from Redis at scrape time."""

    def describe(self):
        # Names only: registering must not query a database that may not be migrated yet.
        yield GaugeMetricFamily("supermarket_open_replenishment_suggestions", "Open replenishment suggestions")
        yield GaugeMetricFamily("supermarket_products_below_safety_stock", "Active products below their safety stock")
        yield GaugeMetricFamily("supermarket_job_queue_depth", "Jobs waiting per RQ queue", labels=["queue"])
        yield job_seconds_family({})

    def collect(self):
        from catalog.models import Product
        from stock.models import ReplenishmentSuggestion
        from stock.selectors import on_hand_subquery

        open_suggestions = GaugeMetricFamily(
            "supermarket_open_replenishment_suggestions", "Open replenishment suggestions"
        )
        open_suggestions.add_metric([], ReplenishmentSuggestion.objects.filter(status="open").count())
        yield open_suggestions
        below = GaugeMetricFamily("supermarket_products_below_safety_stock", "Active products below their safety stock")
        below.add_metric(
            [],
            Product.objects.filter(active=True, safety_stock__gt=0)
            .annotate(total=on_hand_subquery())
            .filter(total__lt=F("safety_stock"))
            .count(),
        )
        yield below
        depth = GaugeMetricFamily("supermarket_job_queue_depth", "Jobs waiting per RQ queue", labels=["queue"])
        if settings.REDIS_URL:
            import django_rq
            import redis

            for name in settings.RQ_QUEUES:
                try:
                    depth.add_metric([name], django_rq.get_queue(name).count)
                except redis.RedisError:
                    logger.warning("metrics: Redis unreachable, queue depth not reported")
                    break
        yield depth
        yield job_seconds_family(_job_seconds_values())


def _job_seconds_values() -> dict:
    if settings.JOBS_INLINE:
        return dict(_inline_job_seconds)
    import django_rq
    import redis

    try:
        return django_rq.get_connection("default").hgetall(JOB_SECONDS_KEY)
    except redis.RedisError:
        logger.warning("metrics: Redis unreachable, job durations not reported")
        return {}


_store = StoreCollector()
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    REGISTRY.register(_store)


def registry() -> CollectorRegistry:
    """Single process: the default registry. Under gunicorn: every worker's files, read afresh per scrape."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    reg = CollectorRegistry()
    multiprocess.MultiProcessCollector(reg)
    reg.register(_store)
    return reg


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(header, f"Bearer {token}"):
        return True
    try:
        # Behind a reverse proxy on this host REMOTE_ADDR is 127.0.0.1 for everyone: judge the client's address.
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in settings.METRICS_ALLOWED_NETWORKS)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition; only for the allow-listed networks or a bearer token."""
    if not _allowed(request):
        return HttpResponseForbidden("metrics are restricted")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
