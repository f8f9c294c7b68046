"""Database sessions read through the worker's cache.

Every page request of a logged-in user reads its session; a till scans many times a minute. The session row
(its encoded data and expiry) is kept per worker, so a scan reads none, and is dropped in every worker when it is
saved or deleted (supermarket.localcache `forget`, sent once the write commits): a logout, a login on the same
browser or the once-a-minute renewal is seen by the next request, whichever worker serves it. What is cached is
what the database holds, decoded afresh on each request, and an expired session is refused as the database would
refuse it. Without Redis (the embedded demo, one process) the cache is the process's own. Only the synchronous
interface is cached: the project is served over WSGI.
"""

from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.utils import timezone

from supermarket.localcache import GenerationCache

rows = GenerationCache("sessions", maxsize=10_000)


class SessionStore(DBStore):
    def _get_session_from_db(self):
        key = self.session_key
        if key is None:
            return None
        row = rows.get(key, lambda: self._row(key))
        if row is None or row[1] <= timezone.now():
            self._session_key = None
            return None
        data, expire_date = row
        return self.model(session_key=key, session_data=data, expire_date=expire_date)

    def _row(self, key: str) -> tuple[str, object] | None:
        session = super()._get_session_from_db()
        return (session.session_data, session.expire_date) if session is not None else None

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()  # which saves, and so drops, under the new key
        super().save(must_create)
        rows.forget([self.session_key])

    def delete(self, session_key: str | None = None) -> None:
        key = session_key if session_key is not None else self.session_key
        super().delete(session_key)
        if key is not None:
            rows.forget([key])


def sessions_clear_expired() -> None:
    """Delete expired session rows (what `manage.py clearsessions` does); scheduled daily by supermarket/schedule.py.
    Nothing else removes them: a session that simply times out stays in the table. A worker's cached copy of a
    deleted row was already refused as expired."""
    SessionStore.clear_expired()
