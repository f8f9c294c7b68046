"""Primary/replica routing with read-your-writes.

Reads go to the replica, writes to the primary. Once a thread has written (or
while it is inside an atomic block on the primary) its reads stay on the
primary, so a sale's receipt never reads a replica that has not caught up.
`pin_to_primary()` resets per request (see PrimaryPinMiddleware).
"""

import threading

from django.db import connections

_state = threading.local()


def pin_to_primary() -> None:
    _state.pinned = True


def unpin() -> None:
    _state.pinned = False


def pinned() -> bool:
    return getattr(_state, "pinned", False) or connections["default"].in_atomic_block


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        return "default" if pinned() else "replica"

    def db_for_write(self, model, **hints):
        pin_to_primary()
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class PrimaryPinMiddleware:
    """Start every request unpinned; a write during it pins it to the primary."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        unpin()
        try:
            return self.get_response(request)
        finally:
            unpin()
