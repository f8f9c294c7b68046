"""Primary/replica routing with read-your-writes.

Reads go to the replica, writes to the primary. Reads stay on the primary
- while the thread is inside an atomic block on the primary (a sale reading what it locks),
- for the rest of a request once it has written anything, and
- for REPLICA_PIN_SECONDS after that on the same browser (a cookie), so that the
  page a write redirects to, say a sale's receipt, never reads a replica that has
  not caught up.
Reports and other plain reads are served by the replica.
"""

import threading

from django.conf import settings
from django.db import connections

PIN_COOKIE = "primary_pin"
_state = threading.local()


def pin_to_primary() -> None:
    _state.pinned = True


def unpin() -> None:
    _state.pinned = False
    _state.wrote = False


def pinned() -> bool:
    return getattr(_state, "pinned", False) or connections["default"].in_atomic_block


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        return "default" if pinned() else "replica"

    def db_for_write(self, model, **hints):
        _state.pinned = True
        _state.wrote = True
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class PrimaryPinMiddleware:
    """Start every request unpinned unless the browser wrote a moment ago; remember a write in a cookie."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        unpin()
        if PIN_COOKIE in request.COOKIES:
            pin_to_primary()
        try:
            response = self.get_response(request)
            if getattr(_state, "wrote", False):
                response.set_cookie(
                    PIN_COOKIE, "1", max_age=settings.REPLICA_PIN_SECONDS, httponly=True, samesite="Lax"
                )
            return response
        finally:
            unpin()
