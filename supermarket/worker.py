"""The RQ workers the project runs (settings.RQ["WORKER_CLASS"], so every `manage.py rqworker` uses it).

Each job is timed in the long-lived worker process around the work horse it forks, so a job that kills its
horse or runs out of time is counted too, and a job's figure does not depend on the horse living long enough
to write it. The outcome is the status RQ recorded for the job.
"""

import rq
from rq.exceptions import InvalidJobOperation
from rq.job import Job
from rq.queue import Queue

from supermarket.jobs import job_observed


class ObservedJobs:
    def execute_job(self, job: Job, queue: Queue):
        with job_observed(job=job.func_name, queue=queue.name, job_id=job.id, connection=self.connection) as outcome:
            super().execute_job(job, queue)
            try:
                outcome.status = job.get_status(refresh=True).value
            except InvalidJobOperation:  # deleted at once (result_ttl=0): only a finished job is
                outcome.status = "finished"


class Worker(ObservedJobs, rq.Worker):
    """Forks a work horse per job, as RQ's default worker."""


class SimpleWorker(ObservedJobs, rq.SimpleWorker):
    """Runs jobs in its own process (tests, debugging)."""
