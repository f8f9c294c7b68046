"""Say plainly whether PostgreSQL and Redis are reachable before the test suite starts."""

import os
import sys

import psycopg
import redis


def main() -> int:
    database_url = os.environ["DATABASE_URL"]
    redis_url = os.environ["REDIS_URL"]
    problems = []
    try:
        # Connect to the maintenance database: the test run creates its own.
        with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", connect_timeout=3):
            pass
    except psycopg.Error as exc:
        problems.append(f"PostgreSQL is not reachable at {database_url}: {exc}".strip())
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        problems.append(f"Redis is not reachable at {redis_url}: {exc}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("The tests need both; start them or set DATABASE_URL / REDIS_URL.", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
