"""Per-process caches that every process drops at once when a shared generation changes.

The cached objects stay in the worker and are never pickled. Writers call `changed()`, which sets
a new random generation after their transaction commits, so a reader that filled its cache from
the old rows before the commit has filled it under the old generation and throws it away on its
next request. Random values rather than a counter: a Redis restart that loses the key cannot
bring an old generation back.

On Redis a hit costs no round trip. Each process subscribes once to the channel on which every
new generation is published (SET and PUBLISH in one MULTI), and before using its cache reads
whatever has arrived on that connection without waiting: a non-blocking read of a local socket.
Redis writes a published message to every subscriber's socket in the same pass of its event loop
as the reply to the publisher, so a change whose writer has heard back is on every subscriber's
socket before anything the writer does next can reach another worker. A subscription that breaks
(Redis restarted, connection killed) is made afresh and every generation read again, since
messages sent meanwhile were missed. Once a second the generations are read with one MGET anyway
and the subscription is sent a PING; one that has not answered the last PING (a connection that
died without a word) is made afresh too. The process that makes a
change sees it at once, without waiting for its own message. Other cache backends (local memory
in the embedded demo) are asked at each read.

For values that change often and a few at a time (a product's on-hand after each sale), `forget(entries)`
drops just those entries in every process after the commit, by a message on the same channel. No generation
records a drop, so a subscription made afresh empties every cache; and a fill that overlapped a drop is not kept.

Within a request the generations are read once, when the first cache needs them, and held until
the request ends (Django's request_started / request_finished signals), so one request sees one
state of every cache. Outside requests (commands, jobs) each `get` reads them afresh.

If the cache backend cannot be reached, `get` loads from the database every time (nothing cached
can be trusted when invalidations cannot be seen) and logs that once, and again once when it is
back.
"""

import logging
import math
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import request_finished, request_started
from django.db import transaction
from redis.exceptions import ConnectionError as RedisConnectionError
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
    # An integer: Django's Redis cache stores integers as plain digits, which _get_many reads without pickle.
    return secrets.randbits(62)


CHANNEL = "generations"  # each message: "<generation key> <new generation>"
RESYNC_SECONDS = 1.0


def _generations(alias: str) -> dict[str, str] | Exception:
    """Every registered generation on this cache alias; the error if the cache cannot be reached."""
    cache = caches[alias]
    if isinstance(cache, RedisCache):
        listener = getattr(cache, "_generations_listener", None)
        if listener is None or listener.pid != os.getpid():  # a forked child subscribes for itself
            listener = cache._generations_listener = _Listener(cache, alias)
        return listener.read()
    try:
        return _fetch_generations(cache, alias)
    except (RedisError, OSError) as exc:
        return exc


def _fetch_generations(cache, alias: str) -> dict[str, str]:
    """Every registered generation on this cache alias, read from the backend."""
    keys = [c.key for c in _registry if c.alias == alias]
    found = _get_many(cache, keys)
    missing = [key for key in keys if key not in found]
    if missing:
        # First use, or Redis lost the keys: start generations nobody can have cached under.
        for key in missing:
            cache.add(key, _new_generation(), timeout=None)
        found.update(_get_many(cache, missing))
    return found


def _get_many(cache, keys: list[str]) -> dict[str, str]:
    """The generations found, as text. On Redis one MGET on the backend's own client: Django's get_many would
    unpickle what is stored as plain digits anyway, at three times the cost."""
    if isinstance(cache, RedisCache):
        values = _client(cache).mget([cache.make_and_validate_key(key) for key in keys])
        # Only compared for equality: latin-1 reads any stored bytes, a generation pickled by an older release too.
        return {key: value.decode("latin-1") for key, value in zip(keys, values, strict=True) if value is not None}
    return {key: str(value) for key, value in cache.get_many(keys).items()}


def _client(cache: RedisCache):
    # Django makes a new client object (with its table of reply handlers) at each call; one per backend will do.
    client = getattr(cache, "_generations_client", None)
    if client is None:
        client = cache._generations_client = cache._cache.get_client(write=True)
    return client


def _publish(cache, key: str, generation: int) -> None:
    """Store the new generation and tell every subscribed process, in one transaction."""
    if not isinstance(cache, RedisCache):
        cache.set(key, generation, timeout=None)
        return
    with _client(cache).pipeline(transaction=True) as pipe:
        # A plain integer, as Django's own cache.set stores one.
        pipe.set(cache.make_and_validate_key(key), generation)
        pipe.publish(cache.make_and_validate_key(CHANNEL), f"{key} {generation}")
        pipe.execute()
    listener = getattr(cache, "_generations_listener", None)
    if listener is not None and listener.pid == os.getpid():
        listener.heard(key, str(generation))


def _publish_drop(cache, alias: str, key: str, entries: list[str]) -> None:
    """Tell every subscribed process to drop these entries ("-" marks a drop; generations are digits)."""
    if isinstance(cache, RedisCache):
        _client(cache).publish(cache.make_and_validate_key(CHANNEL), f"{key} -{','.join(entries)}")
    _dropped(alias, key, entries)  # this process's, at once


def _dropped(alias: str, key: str, entries: list[str]) -> None:
    for cache in _registry:
        if cache.key == key and cache.alias == alias:
            cache.drop_local(entries)


class _Listener:
    """This process's subscription to the generations published on one Redis cache, and what it has heard."""

    def __init__(self, cache: RedisCache, alias: str):
        self.cache, self.alias = cache, alias
        self.pid = os.getpid()
        self.channel = cache.make_and_validate_key(CHANNEL)
        self.connection = None
        self.pinged = False
        self.generations: dict[str, str] = {}
        self.synced_at = -math.inf
        self.lock = threading.Lock()

    def read(self) -> dict[str, str] | Exception:
        with self.lock:
            try:
                try:
                    self._catch_up()
                except (RedisError, OSError):
                    self._close()
                    self._catch_up()  # once more, subscribed afresh: Redis restarted, or the connection was killed
            except (RedisError, OSError) as exc:
                self._close()
                return exc
            return dict(self.generations)

    def heard(self, key: str, generation: str) -> None:
        with self.lock:
            self.generations[key] = generation

    def _catch_up(self) -> None:
        if self.connection is None:
            self._subscribe()
        connection = self.connection
        while connection.can_read(timeout=0):
            reply = connection.read_response(push_request=True)
            if isinstance(reply, list) and reply[0] == b"message":
                key, _sep, payload = reply[2].decode("latin-1").partition(" ")
                if payload.startswith("-"):
                    _dropped(self.alias, key, payload[1:].split(","))
                else:
                    self.generations[key] = payload
            elif reply == b"PONG" or (isinstance(reply, list) and reply[0] == b"pong"):
                self.pinged = False
        if time.monotonic() - self.synced_at > RESYNC_SECONDS:
            if self.pinged:
                # No answer to last round's PING: a connection that died without a word misses drops, which
                # no generation read can reveal.
                raise RedisConnectionError("the subscription did not answer PING")
            self.generations = _fetch_generations(self.cache, self.alias)
            connection.send_command("PING")
            self.pinged = True
            self.synced_at = time.monotonic()

    def _subscribe(self) -> None:
        pool = _client(self.cache).connection_pool
        connection = pool.connection_class(**pool.connection_kwargs)
        connection.connect()
        connection.send_command("SUBSCRIBE", self.channel)
        # The confirmation: from here on every change published reaches this connection.
        connection.read_response(push_request=True)
        self.connection = connection
        self.pinged = False
        # Changes made while unsubscribed were missed: read every generation now, and drop every entry (a dropped
        # entry leaves no trace in the generations).
        self.synced_at = -math.inf
        for cache in _registry:
            if cache.alias == self.alias:
                cache.clear_local()

    def _close(self) -> None:
        if self.connection is not None:
            self.connection.disconnect()
            self.connection = None


class GenerationCache:
    """A bounded LRU of loader results, valid while the shared generation under `name` is unchanged."""

    def __init__(self, name: str, *, maxsize: int, alias: str = "default"):
        self.key = f"generation:{name}"
        self.maxsize = maxsize
        self.alias = alias
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._generation: str | None = None
        self._drops = 0  # drops so far: a fill that saw another count is not kept
        self._lock = threading.Lock()
        self.unreachable = False
        _registry.append(self)

    def _current_generation(self) -> str | None:
        """The shared generation, or None if the cache backend cannot be reached."""
        snapshot = getattr(_request, "generations", None)
        if snapshot is not None and self.alias in snapshot:
            generations = snapshot[self.alias]
        else:
            generations = _generations(self.alias)
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
            self._enter(generation)
            value = self._entries.get(key, _MISSING)
            if value is not _MISSING:
                self._entries.move_to_end(key)
                return value
            drops = self._drops
        value = loader()
        self._keep(generation, drops, {key: value})
        return value

    def get_many(self, keys: Iterable[Hashable], loader: Callable[[list], dict]) -> dict:
        """The values of these keys: the cached ones, and the rest from one call of loader(missing keys), which
        answers a dictionary (a key it leaves out is not cached)."""
        keys = list(dict.fromkeys(keys))
        generation = self._current_generation()
        if generation is None:
            return loader(keys) if keys else {}
        with self._lock:
            self._enter(generation)
            found = {key: self._entries[key] for key in keys if key in self._entries}
            for key in found:
                self._entries.move_to_end(key)
            drops = self._drops
        missing = [key for key in keys if key not in found]
        if missing:
            loaded = loader(missing)
            self._keep(generation, drops, loaded)
            found.update(loaded)
        return found

    def _enter(self, generation: str) -> None:
        # Under the lock: entries filled under another generation are dropped before any is read.
        if generation != self._generation:
            self._entries.clear()
            self._generation = generation

    def _keep(self, generation: str, drops: int, values: dict) -> None:
        with self._lock:
            # Not kept if a drop came while loading: what was loaded may predate it.
            if generation == self._generation and drops == self._drops:
                self._entries.update(values)
                while len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)

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

    def forget(self, entries: Iterable[str]) -> None:
        """Drop these entries (text keys) in every process once the current transaction commits; this process's at
        once too. For values that change often, a few at a time (a product's on-hand after each sale), where
        `changed` would empty every worker's cache many times a second."""
        entries = sorted(set(entries))
        if not entries:
            return
        self.drop_local(entries)
        transaction.on_commit(lambda: self._publish_drop(entries))

    def _publish_drop(self, entries: list[str]) -> None:
        try:
            _publish_drop(caches[self.alias], self.alias, self.key, entries)
        except (RedisError, OSError) as exc:
            # Readers that cannot reach the cache do not use it either. Logged once, not at every sale.
            if not self.unreachable:
                self.unreachable = True
                logger.warning("cache unreachable, %s not dropped: %s", self.key, exc)

    def drop_local(self, entries: list[str]) -> None:
        with self._lock:
            self._drops += 1
            for entry in entries:
                self._entries.pop(entry, None)

    def _bump(self) -> None:
        try:
            _publish(caches[self.alias], self.key, _new_generation())
        except (RedisError, OSError) as exc:
            # Readers that cannot reach the cache do not use it either, so nothing stale is served.
            logger.warning("cache unreachable, %s not bumped: %s", self.key, exc)

    def clear_local(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation = None
