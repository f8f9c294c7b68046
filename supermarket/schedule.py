"""Periodic jobs, run by exactly one process: `python manage.py rqcron supermarket.schedule` (Procfile `scheduler`).

RQ's cron scheduler enqueues each job on its queue when due; the workers run it like any other job. Cron fields
are read in the store's time zone: Django sets the process's TZ from settings.TIME_ZONE, and RQ matches cron
expressions against local time. Two schedulers would enqueue every job twice, and a run missed while the
scheduler is down is not made up (run `manage.py forecast_all` by hand).
"""

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rq import cron

from reports.jobs import forecast_nightly
from supermarket.sessions import sessions_clear_expired


def _checked(name: str) -> str:
    # rq's loader logs a job that fails to register and goes on without it: refuse to start instead.
    expression = getattr(settings, name)
    if not croniter.is_valid(expression):
        raise ImproperlyConfigured(
            f"{name} must be a cron expression (minute hour day month weekday), got {expression!r}"
        )
    return expression


# Stored forecasts feed the replenishment suggestions (stock.replenishment), which fall back to the 28-day
# average when they are missing or stale.
cron.register(forecast_nightly, "forecasts", cron=_checked("FORECAST_SCHEDULE"), job_timeout=600)
cron.register(sessions_clear_expired, "default", cron=_checked("SESSIONS_CLEAR_SCHEDULE"))
