"""gunicorn settings sized from the machine: `gunicorn -c supermarket/gunicorn.conf.py supermarket.wsgi`."""

import multiprocessing
import os
import shutil
import tempfile

# gunicorn puts its working directory (the project's) on sys.path before reading this file.
from supermarket.env import env  # an empty variable (NAME= in .env) counts as unset

cpus = multiprocessing.cpu_count()
bind = f"0.0.0.0:{env('PORT', '8000')}"
# Sync workers: two per core keeps both cores busy while one worker waits on PostgreSQL.
workers = int(env("WEB_CONCURRENCY", str(cpus * 2)))
threads = int(env("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
backlog = 2048
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so slow leaks cannot grow without bound.
max_requests = int(env("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
accesslog = None  # each request is logged once, as JSON, by the application
# X-Forwarded-Proto (https behind the TLS proxy) is believed only from the proxies whose X-Forwarded-For the
# application believes (settings.TRUSTED_PROXIES); with none named, gunicorn's default: this host only.
forwarded_allow_ips = env("TRUSTED_PROXIES", "127.0.0.1,::1")
errorlog = "-"

# Metrics from every worker add up in one exposition (prometheus_client multiprocess mode). Written back to the
# environment (replacing an empty value too) for the workers and prometheus_client to find.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = env(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"supermarket-metrics-{os.getpid()}")
)


def on_starting(server):
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def child_exit(server, worker):
    """A worker exited (recycled after max_requests, or a HUP reload): drop its live gauges.

    Its counter and histogram files stay, by design: they hold that worker's share of every total
    (requests, sales, latency buckets), and removing them would make those totals fall back, which
    Prometheus reads as a counter reset. Each worker generation adds its few files, so the directory
    and the scrape time grow with recycles and reloads until the next full restart, when on_starting
    empties the directory (Prometheus sees one reset then). Raising GUNICORN_MAX_REQUESTS slows it."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
