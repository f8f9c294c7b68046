"""Per-process caches that every process drops at once when a shared generation changes.

A hit costs one GET of the generation from the Django cache (Redis in production)
and no database query; the cached objects stay in the worker and are never
pickled. Writers call `changed()`, which sets a new random generation after their
transaction commits, so a reader that filled its cache from the old rows before
the commit has filled it under the old generation and throws it away on its next
request. Random values rather than a counter: a Redis restart that loses the key
cannot bring an old generation back.

Within a request the generations of every GenerationCache are read together, in one
MGET when the first of them is needed, and held until the request ends (Django's
request_started / request_finished signals): a scan that checks its token, the
user's permissions and the product costs one round trip to Redis, not three.
Outside requests (commands, jobs) each `get` reads its generation afresh.

If the cache backend cannot be reached, `get` loads from the database every time
(nothing cached can be trusted when invalidations cannot be seen) and logs that
once, and again once when it is back.
"""

import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import request_finished, request_started
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

_MISSING = object()
_registry: list["GenerationCache"] = []
_request = threading.local()


def _request_begins(**kwargs) -> None:
    _request.generations = {}


def _request_ends(**kwargs) -> None:
    _request.generations = None


request_started.connect(_request_begins, dispatch_uid="localcache-request-started")
request_finished.connect(_request_ends, dispatch_uid="localcache-request-finished")


def _new_generation() -> int:
    # An integer: Django's Redis cache stores integers as plain digits, which _read_generations reads without pickle.
    return secrets.randbits(62)


def _read_generations(alias: str) -> dict[str, str] | Exception:
    """Every registered generation on this cache alias, in one round trip; the error if it cannot be reached."""
    cache = caches[alias]
    keys = [c.key for c in _registry if c.alias == alias]
    try:
        found = _get_many(cache, keys)
        missing = [key for key in keys if key not in found]
        if missing:
            # First use, or Redis lost the keys: start generations nobody can have cached under.
            for key in missing:
                cache.add(key, _new_generation(), timeout=None)
            found.update(_get_many(cache, missing))
    except (RedisError, OSError) as exc:
        return exc
    return found


def _get_many(cache, keys: list[str]) -> dict[str, str]:
    """The generations found, as text. On Redis one MGET on the backend's own client: Django's get_many would
    unpickle what is stored as plain digits anyway, at three times the cost, on every request."""
    if isinstance(cache, RedisCache):
        # Django makes a new client object (with its table of reply handlers) at each call; one per backend will do.
        client = getattr(cache, "_generations_client", None)
        if client is None:
            client = cache._generations_client = cache._cache.get_client(write=False)
        values = client.mget([cache.make_and_validate_key(key) for key in keys])
        # Only compared for equality: latin-1 reads any stored bytes, a generation pickled by an older release too.
        return {key: value.decode("latin-1") for key, value in zip(keys, values, strict=True) if value is not None}
    return {key: str(value) for key, value in cache.get_many(keys).items()}


class GenerationCache:
    """A bounded LRU of loader results, valid while the shared generation under `name` is unchanged."""

    def __init__(self, name: str, *, maxsize: int, alias: str = "default"):
        self.key = f"generation:{name}"
        self.maxsize = maxsize
        self.alias = alias
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._generation: str | None = None
        self._lock = threading.Lock()
        self.unreachable = False
        _registry.append(self)

    def _current_generation(self) -> str | None:
        """The shared generation, or None if the cache backend cannot be reached."""
        snapshot = getattr(_request, "generations", None)
        if snapshot is not None and self.alias in snapshot:
            generations = snapshot[self.alias]
        else:
            generations = _read_generations(self.alias)
            if snapshot is not None:
                snapshot[self.alias] = generations
        if isinstance(generations, Exception):
            self.clear_local()  # what it holds may miss invalidations made while the cache is down
            if not self.unreachable:
                self.unreachable = True
                logger.warning("cache unreachable, %s read from the database: %s", self.key, generations)
            return None
        if self.unreachable:
            self.unreachable = False
            logger.warning("cache reachable again, %s cached", self.key)
        return generations.get(self.key)

    def get(self, key: Hashable, loader: Callable[[], Any]) -> Any:
        generation = self._current_generation()
        if generation is None:
            return loader()
        with self._lock:
            if generation != self._generation:
                self._entries.clear()
                self._generation = generation
            value = self._entries.get(key, _MISSING)
            if value is not _MISSING:
                self._entries.move_to_end(key)
                return value
        value = loader()
        with self._lock:
            if generation == self._generation:
                self._entries[key] = value
                if len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)
        return value

    def changed(self, *, at_once: bool = False) -> None:
        """Invalidate every process's entries once the current transaction commits (at once outside one, or with
        at_once: for news that holds even if the transaction rolls back).

        This process's own entries are dropped at once as well, so the writing request reads its own change.
        """
        self.clear_local()
        if at_once:
            self._bump()
        else:
            transaction.on_commit(self._bump)

    def _bump(self) -> None:
        try:
            caches[self.alias].set(self.key, _new_generation(), timeout=None)
        except (RedisError, OSError) as exc:
            # Readers that cannot reach the cache do not use it either, so nothing stale is served.
            logger.warning("cache unreachable, %s not bumped: %s", self.key, exc)

    def clear_local(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation = None
