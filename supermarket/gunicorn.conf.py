"""gunicorn settings sized from the machine: `gunicorn -c supermarket/gunicorn.conf.py supermarket.wsgi`."""

import multiprocessing
import os
import shutil
import tempfile

cpus = multiprocessing.cpu_count()
bind = f"0.0.0.0:{os.getenv('PORT', '8000')}"
# Sync workers: two per core keeps both cores busy while one worker waits on PostgreSQL.
workers = int(os.getenv("WEB_CONCURRENCY") or cpus * 2)
threads = int(os.getenv("GUNICORN_THREADS") or 1)
worker_class = "gthread" if threads > 1 else "sync"
backlog = 2048
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so slow leaks cannot grow without bound.
max_requests = int(os.getenv("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
accesslog = None  # each request is logged once, as JSON, by the application
errorlog = "-"

# Metrics from every worker add up in one exposition (prometheus_client multiprocess mode).
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"supermarket-metrics-{os.getpid()}")
)


def on_starting(server):
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
