"""Background jobs: one seam between the domain code and RQ.

Jobs are enqueued after the surrounding transaction commits. With REDIS_URL
set they go to an RQ queue; on the embedded default (no Redis) they run
inline, after commit, in the same process.
"""

from collections.abc import Callable

from django.conf import settings
from django.db import transaction


def enqueue(func: Callable, *args, queue: str = "default", **kwargs) -> None:
    def send():
        if settings.JOBS_INLINE:
            func(*args, **kwargs)
        else:
            import django_rq

            django_rq.get_queue(queue).enqueue(func, *args, **kwargs)

    transaction.on_commit(send)
