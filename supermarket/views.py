from django.conf import settings
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect


def posted_id(value) -> int | None:
    """A row id a page sent, or None for anything but a whole number (a page edited by hand, an empty field): the
    view then answers with a message, where the ORM would fail with a 500."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def home(request: HttpRequest) -> HttpResponse:
    return redirect("admin:index")


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive (load balancers); says nothing about the database."""
    return JsonResponse({"status": "ok"})


def _database_ready() -> str | None:
    try:
        connection = connections["default"]
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return f"database unreachable: {exc.__class__.__name__}"
    return f"{len(pending)} migration(s) not applied" if pending else None


def _redis_ready() -> str | None:
    if not settings.REDIS_URL:
        return None
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
    except redis.RedisError as exc:
        return f"redis unreachable: {exc.__class__.__name__}"
    return None


def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: database reachable with every migration applied, and Redis reachable when configured."""
    problems = {
        name: problem for name, problem in (("database", _database_ready()), ("redis", _redis_ready())) if problem
    }
    return JsonResponse(
        {"status": "unavailable" if problems else "ready", "problems": problems}, status=503 if problems else 200
    )
