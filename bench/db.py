"""What the benchmarks do to the database that a production server's autovacuum would have done."""

from django.db import connection


def vacuum_analyze() -> None:
    """VACUUM ANALYZE the whole database, as autovacuum does in production every minute or so.

    The benchmark machines' PostgreSQL runs with autovacuum off (`manage.py check --database default` says so,
    supermarket.W001). Without it the planner works from no statistics at all: a sale's lock query read every
    level row of the store, and a till scan or a sale measured up to a fifth slower than on the same data
    analyzed. Dead rows also pile up from one run into the next.
    """
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
