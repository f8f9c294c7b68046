"""RQ entry points of the reports app: load the job record by id, call the report or forecast code.

A failure is recorded on the JobRun (shown on the job status page, retryable
there) and re-raised on a worker, so RQ's failed registry has it too. Inline
(no Redis) the record is the report: raising there would break the request
whose commit ran the job.
"""

import logging
import traceback
from datetime import date

from django.conf import settings

from reports import export, services
from reports.models import JobRun
from stock.models import Location

logger = logging.getLogger(__name__)


def forecast_chunk(job: JobRun, *, product_ids: list[int], location_id: int, history_end: str, horizon: int) -> None:
    services.forecasts_make(
        product_ids=product_ids,
        location=Location.objects.get(pk=location_id),
        history_end=date.fromisoformat(history_end),
        horizon=horizon,
        on_step=lambda done: services.job_progress(job=job, done=done),
    )


def report_export(job: JobRun, **arguments) -> None:
    export.report_export_write(job)
    services.job_progress(job=job, done=1)


KINDS = {"forecast_chunk": forecast_chunk, "report_export": report_export}


def forecast_nightly() -> None:
    """The scheduled nightly run (supermarket/schedule.py): what `manage.py forecast_all` does with its defaults, a
    batch of forecast jobs for the sales floor with history up to yesterday."""
    batch = services.forecast_batch_start(location=Location.default(), history_end=services.history_end_latest())
    logger.info("nightly forecast batch %s: %s products", batch.pk, batch.total)


def _error_text(error: Exception) -> str:
    """What the job page shows: a refused export's own message, written for the manager; for anything else the
    exception's type as well, since its message alone (a KeyError's "'slug'") says little."""
    if isinstance(error, export.ExportRefused):
        return str(error)
    return "".join(traceback.format_exception_only(error)).strip()


def job_run(job_id: int) -> None:
    if not services.job_claim(job_id=job_id):
        logger.info("job %s is not queued any more; skipped", job_id)
        return
    job = JobRun.objects.get(pk=job_id)
    try:
        KINDS[job.kind](job, **job.arguments)
    except Exception as error:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        services.job_finish(job=job, error=_error_text(error)[:2000])
        if not settings.JOBS_INLINE:
            raise
    else:
        services.job_finish(job=job)
