"""A real gunicorn serving the app on 127.0.0.1, its own database, and the faults done to them.

Every fault is a context manager that puts PostgreSQL or Redis back in its `finally`, however the test ends:
the server processes are shared with every other test run on the machine.
"""

import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.getenv("RELIABILITY_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_PORT = 6379
REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(REDIS_PORT)]
REDIS_START += ["--save", "", "--appendonly", "no"]
REQUEST_TIMEOUT = (5, 25)  # connect, read: a request past this counts as a hang


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_cluster() -> tuple[str, str]:
    version = sorted(os.listdir("/etc/postgresql"), key=float)[-1]
    return version, "main"


@contextmanager
def postgres_restarted() -> Iterator[None]:
    """Restart the local cluster (connections dropped, new ones refused meanwhile); always leave it running."""
    version, cluster = pg_cluster()
    try:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"],
            check=True,
            timeout=60,
            capture_output=True,
        )
        yield
    finally:
        _wait_for_postgres(version, cluster)


def _wait_for_postgres(version: str, cluster: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            psycopg.connect(PG_ADMIN, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "start"],
                timeout=60,
                capture_output=True,
            )
            time.sleep(0.5)
    raise RuntimeError("PostgreSQL did not come back within 60 s")


def redis_ping() -> bool:
    return (
        subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True, text=True).stdout.strip()
        == "PONG"
    )


@contextmanager
def redis_stopped() -> Iterator[None]:
    """Shut Redis down without saving for the body of the block; always start it again."""
    try:
        subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "shutdown", "nosave"], capture_output=True, timeout=10)
        deadline = time.monotonic() + 10
        while redis_ping() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield
    finally:
        if not redis_ping():
            subprocess.run(REDIS_START, check=True, capture_output=True, timeout=10)
        deadline = time.monotonic() + 10
        while not redis_ping() and time.monotonic() < deadline:
            time.sleep(0.1)


@dataclass
class Live:
    """The running server: its URL, database, the API key and the hot products (barcode -> price, start stock)."""

    url: str
    database_url: str
    env: dict
    key: str
    prices: dict[str, Decimal]
    start_on_hand: Decimal
    master: subprocess.Popen
    log_path: Path
    workers: int

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.master.pid}/task/{self.master.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args, "--skip-checks"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(query, params).fetchall()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


SEED = """
import json, sys
from decimal import Decimal
from django.contrib.auth import get_user_model
from checkout.services import api_token_for
from stock.models import Location, MovementKind
from stock.services import Move, stock_move_batch
from supermarket.roles import CASHIER, user_set_role
from tests.factories import ProductFactory

n, start = int(sys.argv[1]), Decimal(sys.argv[2])
user = get_user_model().objects.create_user("load-client", password="load-client-pass-1")
user_set_role(user=user, role=CASHIER)
products = ProductFactory.create_batch(n, selling_price=Decimal("3.40"))
for i, p in enumerate(products):
    p.selling_price = Decimal("1.05") + Decimal(i % 17) * Decimal("0.35")
    p.save(update_fields=["selling_price"])
stock_move_batch(moves=[Move(p, Location.default(), start) for p in products], kind=MovementKind.RECEIPT)
print(json.dumps({"key": api_token_for(user).key,
                  "prices": {p.barcode: str(p.selling_price) for p in products}}))
"""


@contextmanager
def live_server(*, products: int, start_on_hand: Decimal, workers: int, log_dir: Path) -> Iterator[Live]:
    """Create a database, migrate and seed it, serve it with gunicorn; drop it all afterwards."""
    name = f"sm_reliab_live_{secrets.token_hex(4)}"
    base = PG_ADMIN.rsplit("/", 1)[0]
    database_url = f"{base}/{name}"
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": os.getenv("REDIS_URL", "redis://127.0.0.1:6379/10"),
        "SECRET_KEY": os.getenv("SECRET_KEY") or "reliability-only-not-secret",
        "LANGUAGE_CODE": "en",
        "WEB_CONCURRENCY": str(workers),
        "PORT": str(port),
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "supermarket.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(log_dir / "metrics"),
        "CONN_MAX_AGE": "60",
        "REQUEST_LOG_LEVEL": "WARNING",  # thousands of request lines would only slow a busy machine down
        # The load client is one user on one address; login throttling is not what these tests measure.
        "AXES_ENABLED": "False",
    }
    (log_dir / "metrics").mkdir(exist_ok=True)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    master = None
    log_path = log_dir / "gunicorn.log"
    try:
        _run([sys.executable, "manage.py", "migrate", "--noinput", "--skip-checks"], env)
        seeded = _run([sys.executable, "-c", _seed_runner(), SEED, str(products), str(start_on_hand)], env)
        seed = json.loads(seeded.strip().splitlines()[-1])
        with log_path.open("w") as log:
            master = subprocess.Popen(
                # --preload: a killed worker is replaced by a fork of the loaded app in milliseconds, so the
                # kills test what a kill does to requests, not how fast Django imports on a busy machine.
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    "supermarket/gunicorn.conf.py",
                    "--preload",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "tests.reliability.wsgi_warm",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        live = Live(
            url=f"http://127.0.0.1:{port}",
            database_url=database_url,
            env=env,
            key=seed["key"],
            prices={code: Decimal(price) for code, price in seed["prices"].items()},
            start_on_hand=start_on_hand,
            master=master,
            log_path=log_path,
            workers=workers,
        )
        _wait_until_serving(live)
        yield live
    finally:
        if master is not None:
            master.send_signal(signal.SIGTERM)
            try:
                master.wait(timeout=30)
            except subprocess.TimeoutExpired:
                master.kill()
                master.wait()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _die_with_parent() -> None:
    # If the test process is killed before its finally block runs, the server goes too (Linux prctl).
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _run(args: list[str], env: dict) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise RuntimeError(f"{args[:3]} failed:\n{done.stderr[-4000:]}")
    return done.stdout


def _seed_runner() -> str:
    return "import sys, django; django.setup(); code = sys.argv.pop(1); exec(compile(code, 'seed', 'exec'))"


def _wait_until_serving(live: Live) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if live.master.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{live.log()[-3000:]}")
        try:
            if (
                requests.get(f"{live.url}/healthz", timeout=2).status_code == 200
                and len(live.worker_pids()) == live.workers
            ):
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not serve within 60 s:\n{live.log()[-3000:]}")
