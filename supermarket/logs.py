"""Structured logs: one JSON object per line, for requests, jobs and everything else."""

import json
import logging
import time
from contextvars import ContextVar

from django.db import connection

request_logger = logging.getLogger("supermarket.request")
# Fields a log line may carry besides the message; anything else passed in `extra` is ignored.
FIELDS = (
    "method",
    "path",
    "status",
    "duration_ms",
    "view",
    "user",
    "queries",
    "sale",
    "job",
    "job_id",
    "queue",
    "error",
)


# The job being run (job, job_id, queue), set by supermarket.jobs.job_observed; a forked work horse inherits it.
current_job: ContextVar[dict | None] = ContextVar("current_job", default=None)


class JobFieldsFilter(logging.Filter):
    """Adds the running job's fields to every line logged while it runs: RQ's own lines and the job's."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (current_job.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class RequestLogMiddleware:
    """Times each request, counts its queries, records metrics and writes one log line.

    Views may set request.log_sale = "<sale number>" to tie the line to a sale. The query
    string and headers are never logged (they can carry tokens).
    """

    def __init__(self, get_response):
        from supermarket import metrics  # not at import time: logging loads this module before the apps

        self.get_response = get_response
        self.metrics = metrics

    def __call__(self, request):
        start = time.perf_counter()
        queries = 0

        def count(execute, sql, params, many, context):
            nonlocal queries
            queries += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = self.get_response(request)
        elapsed = time.perf_counter() - start
        view = request.resolver_match.view_name if request.resolver_match else "unmatched"
        metrics = self.metrics
        metrics.http_requests.labels(view, request.method, str(response.status_code)).inc()
        metrics.http_latency.labels(view).observe(elapsed)
        metrics.db_queries.labels(view).observe(queries)
        # Only a user the request already loaded: looking it up here would cost the API a session query.
        user = request.__dict__.get("_cached_user")
        request_logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "view": view,
                "user": user.pk if user is not None and user.is_authenticated else None,
                "queries": queries,
                **({"sale": request.log_sale} if hasattr(request, "log_sale") else {}),
            },
        )
        return response
