"""Background jobs: one seam between the domain code and RQ.

Jobs are enqueued after the surrounding transaction commits. With REDIS_URL
set they go to an RQ queue; on the embedded default (no Redis) they run
inline, after commit, in the same process.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

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
            func(*args, **kwargs)
        else:
            import django_rq

            django_rq.get_queue(queue).enqueue(func, *args, **kwargs)

    transaction.on_commit(send)
