"""Background jobs: one seam between the domain code and RQ.

Jobs are enqueued after the surrounding transaction commits. With REDIS_URL
set they go to an RQ queue; on the embedded default (no Redis) they run
inline, after commit, in the same process.
"""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from supermarket import logs

logger = logging.getLogger(__name__)


class JobsUnavailable(Exception):
    """The job queue (Redis) cannot be reached; raised before anything is recorded, so the caller's transaction
    rolls back and the request can simply be repeated once Redis is back."""

    def __init__(self):
        super().__init__(
            _("The job queue cannot be reached (Redis is down), so nothing was started. Try again in a minute.")
        )


def enqueue(func: Callable, *args, queue: str = "default", **kwargs) -> None:
    if not settings.JOBS_INLINE:
        import django_rq

        # Asked inside the caller's transaction: a job record whose job could never be queued is not kept.
        try:
            django_rq.get_queue(queue).connection.ping()
        except (RedisError, OSError) as exc:
            logger.warning("job queue %s unreachable, %s not queued: %s", queue, func.__name__, exc)
            raise JobsUnavailable() from exc

    def send():
        if settings.JOBS_INLINE:
            with job_observed(job=f"{func.__module__}.{func.__qualname__}", queue=queue):
                func(*args, **kwargs)
        else:
            import django_rq

            django_rq.get_queue(queue).enqueue(func, *args, **kwargs)

    transaction.on_commit(send)


@dataclass
class JobOutcome:
    status: str = ""  # "finished" when the block ends normally, "failed" when it raises, unless set before


@contextmanager
def job_observed(*, job: str, queue: str, job_id: str = "", connection=None) -> Iterator[JobOutcome]:
    """Around every job the project runs (the RQ worker, supermarket.worker, and inline jobs here): lines logged
    meanwhile carry the job's fields, and at the end its duration and outcome go to the supermarket_job_seconds
    histogram (in Redis through `connection`, else in this process) and to one log line."""
    from supermarket import metrics  # not at import time: metrics reads models, and logging may load this module

    fields = {"job": job, "queue": queue, **({"job_id": job_id} if job_id else {})}
    token = logs.current_job.set(fields)
    outcome = JobOutcome()
    started = time.perf_counter()
    try:
        yield outcome
    except BaseException:
        outcome.status = outcome.status or "failed"
        raise
    finally:
        seconds = time.perf_counter() - started
        outcome.status = outcome.status or "finished"
        try:
            metrics.job_seconds_observe(
                job=job, queue=queue, outcome=outcome.status, seconds=seconds, connection=connection
            )
        except RedisError as exc:  # the job's own outcome is already recorded; only the figure is lost
            logger.warning("job duration not recorded: %s", exc)
        logger.info(
            "job %s %s in %.3f s",
            job,
            outcome.status,
            seconds,
            extra={"status": outcome.status, "duration_ms": round(seconds * 1000, 2)},
        )
        logs.current_job.reset(token)
