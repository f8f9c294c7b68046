"""CPU time of the processes a benchmark drives, read from /proc (Linux)."""

import os
from pathlib import Path

from django.db import connection


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each of these processes still running, with its ended children's: PostgreSQL's
    postmaster collects those of the backends whose connections closed (CONN_MAX_AGE) during a run."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime + stime + cutime + cstime
        seconds[pid] = sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")
    return seconds


def backend_cpu() -> tuple[int, float] | None:
    """The PostgreSQL backend serving this process's connection and the CPU seconds it has used so far; None if it
    is not a process of this machine (another host, a container) or the database is not PostgreSQL."""
    if connection.vendor != "postgresql":
        return None
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
            return None
    except OSError:
        return None
    seconds = cpu_seconds([pid]).get(pid)
    return None if seconds is None else (pid, seconds)
