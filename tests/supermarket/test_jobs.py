import pytest
from django.db import transaction

from supermarket.jobs import enqueue

calls = []


def record(value):
    calls.append(value)


@pytest.mark.django_db(transaction=True)
def test_inline_job_runs_after_commit_and_not_on_rollback(settings):
    settings.JOBS_INLINE = True
    calls.clear()
    with transaction.atomic():
        enqueue(record, "committed")
        assert calls == []
    assert calls == ["committed"]

    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue(record, "rolled back")
        raise RuntimeError
    assert calls == ["committed"]


@pytest.mark.django_db(transaction=True)
def test_with_redis_the_job_goes_to_the_named_rq_queue(settings):
    import django_rq

    settings.JOBS_INLINE = False
    queue = django_rq.get_queue("reports")
    queue.empty()
    with transaction.atomic():
        enqueue(record, "queued", queue="reports")
        assert queue.count == 0
    assert queue.count == 1
    job = queue.jobs[0]
    assert job.func_name.endswith("record") and job.args == ("queued",)
    queue.empty()
