"""Sales against a real gunicorn while its workers are killed, PostgreSQL restarts and Redis is stopped."""

import os
import random
import signal
import threading
import time

import django_rq
import pytest
import requests

from reports.models import JobRun
from stock.models import Location
from supermarket import localcache
from tests.factories import ProductFactory
from tests.reliability.checks import assert_database_matches
from tests.reliability.clients import Tally, run_clients
from tests.reliability.live import REQUEST_TIMEOUT, Live, postgres_restarted, redis_stopped

CLIENTS = 50
SALES = int(os.getenv("RELIABILITY_SALES", "10000"))  # the floor the suite is sized for; never run it with fewer


def _figures(name: str, tally: Tally, **extra) -> None:
    # Printed for docs/RELIABILITY.md (make test-reliability runs pytest with -s).
    statuses = dict(sorted(tally.statuses.items(), key=str))
    print(
        f"\n[{name}] {extra} acked={len(tally.acked)} repeats={tally.repeats} retries={tally.retries} "
        f"slowest={tally.slowest:.2f}s statuses={statuses}"
    )


class WorkerKiller(threading.Thread):
    """SIGKILLs a random gunicorn worker at random moments until stopped."""

    def __init__(self, live: Live, *, every: tuple[float, float], seed: int):
        super().__init__(name="worker-killer", daemon=True)
        self.live, self.every, self.rng = live, every, random.Random(seed)
        self.stopped = threading.Event()
        self.kills = 0

    def run(self) -> None:
        while not self.stopped.wait(self.rng.uniform(*self.every)):
            pids = self.live.worker_pids()
            if pids:
                try:
                    os.kill(self.rng.choice(pids), signal.SIGKILL)
                    self.kills += 1
                except ProcessLookupError:  # it died of something else (max_requests) just now
                    pass


def test_sales_while_workers_are_killed_are_each_written_exactly_once(live, tally):
    before = len(tally.acked)  # pytest-django runs the database test (Redis) first
    killer = WorkerKiller(live, every=(1.0, 5.0), seed=1)
    killer.start()
    try:
        elapsed = run_clients(live, tally, clients=CLIENTS, sales=SALES, seed=1)
    finally:
        killer.stopped.set()
        killer.join()
    _figures(
        "worker kills",
        tally,
        sales=SALES,
        clients=CLIENTS,
        kills=killer.kills,
        seconds=round(elapsed, 1),
        sales_per_second=round(SALES / elapsed, 1),
    )
    assert len(tally.acked) == before + SALES
    assert killer.kills >= 5
    # Killed mid-request, a worker's clients saw their connection drop and retried with the same token.
    assert tally.statuses["ConnectionError"] > 0
    assert tally.statuses[500] == 0
    assert_database_matches(live, tally)


def test_postgres_restart_answers_503_and_retries_sell_exactly_once(live, tally):
    before = len(tally.acked)
    sales, done = 1000, threading.Event()
    elapsed = []

    def sell():
        try:
            elapsed.append(run_clients(live, tally, clients=20, sales=sales, seed=2))
        finally:
            done.set()

    runner = threading.Thread(target=sell, name="pg-restart-clients")
    runner.start()
    try:
        while len(tally.acked) < before + sales // 5 and not done.is_set():
            time.sleep(0.05)
        with postgres_restarted():
            pass
    finally:
        runner.join()
    _figures("postgres restart", tally, sales=sales, clients=20, unavailable=len(tally.unavailable))
    assert len(tally.acked) == before + sales
    assert tally.unavailable, "no request met the restart: nothing was tested"
    for response in tally.unavailable:
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Retry-After"] == "2"
        assert "database cannot be reached" in response.json()["error"]
    assert tally.statuses[500] == 0
    assert tally.slowest < REQUEST_TIMEOUT[1]
    assert_database_matches(live, tally)


@pytest.mark.django_db
def test_with_redis_stopped_scans_and_sales_go_on_and_reports_are_refused_clearly(
    live, tally, admin_client, django_capture_on_commit_callbacks
):
    before = len(tally.acked)
    scan = requests.Session()
    scan.headers["Authorization"] = f"Token {live.key}"
    codes = sorted(live.prices)
    ProductFactory()  # something to forecast, so that the report has a job to queue
    form = {"location": str(Location.default().pk), "history_end": "2026-01-31", "horizon": "7"}
    log_before = live.log().count("cache unreachable")
    with redis_stopped():
        scanned = [scan.get(f"{live.url}/api/products/{code}", timeout=REQUEST_TIMEOUT) for code in codes]
        run_clients(live, tally, clients=10, sales=300, seed=3)
        refused = admin_client.post("/reports/jobs/", form)
        jobs_while_down = JobRun.objects.count()
    assert [r.status_code for r in scanned] == [200] * len(codes)
    assert [r.json()["selling_price"] for r in scanned] == [str(live.prices[c]) for c in codes]
    assert len(tally.acked) == before + 300
    assert refused.status_code == 503
    assert "job queue cannot be reached" in refused.content.decode()
    assert jobs_while_down == 0

    # The outage was logged once per worker and source (each per-process cache: API tokens, products, on-hand,
    # permissions, registers, promotion rules), with room for one replaced worker; not once per request (about
    # 500 requests met it).
    sources = len({cache.key for cache in localcache._registry})
    logged = live.log().count("cache unreachable") - log_before
    _figures("redis stopped", tally, scans=len(scanned), sales=300, warnings_logged=logged)
    assert 1 <= logged <= (live.workers + 1) * sources, logged

    # Back: the caches are used again, sales go on, and a report is queued.
    run_clients(live, tally, clients=10, sales=100, seed=4)
    assert live.log().count("cache reachable again") >= 1
    queue = django_rq.get_queue("forecasts")
    queue.empty()
    with django_capture_on_commit_callbacks(execute=True):
        started = admin_client.post("/reports/jobs/", form)
    assert started.status_code == 302
    assert JobRun.objects.filter(kind="forecast_chunk").count() == queue.count >= 1
    queue.empty()
    assert_database_matches(live, tally)
