"""Django's PostgreSQL backend with a health check that costs no round trip while the connection is quiet.

Django checks a kept connection (CONN_HEALTH_CHECKS) at the first query of each request with SELECT 1: one more
round trip for every sale and every till scan. PostgreSQL says so when it drops a connection (a restart, a
pg_terminate_backend, an idle timeout): it sends an error and closes the socket, so the socket turns readable.
A connection with nothing to read is therefore taken as usable, and only one with something waiting gets the
SELECT 1. A connection cut without a word (a firewall dropping it) still fails its next query, which the
DatabaseUnavailableMiddleware answers with 503 and Retry-After, and the retry gets a new connection.

Its database checks (validation.py, run by migrate) warn when autovacuum is off.
"""

import select

from django.db.backends.postgresql import base

from supermarket.postgresql.validation import DatabaseValidation


class DatabaseWrapper(base.DatabaseWrapper):
    validation_class = DatabaseValidation

    def is_usable(self):
        if self.connection is None or self.connection.closed:
            return False
        try:
            readable, _writable, _failed = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        # Between requests nothing is owed to this connection: anything waiting is news, and SELECT 1 reads it.
        return super().is_usable() if readable else True
