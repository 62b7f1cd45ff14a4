"""The `Store` of `storage.py` in Redis, shared by every server process.

Keys (under a prefix, "paramlab:" by default):

    <prefix>doc:<kind>   hash: key -> the document's JSON
    <prefix>age:<kind>   sorted set: key -> when it was last written (the store's clock)
    <prefix>bytes        the JSON bytes of every document, all kinds together

Every write goes through one Lua script, so a document, its age and the byte
count change together (a script runs alone in Redis: `put_many` is all or
nothing for anything that can fail there; encoding fails before it is sent).
Ages are kept as scores rather than Redis TTLs because `expire` and `trim`
work by kind and by the writer's clock, as the other stores do.

Redis may be down or restarting. A call then fails fast with `StoreUnavailable`
(from `storage.py`: never a long block of the event loop that called it): after a failure the
store refuses calls without trying for a back-off that doubles up to
`MAX_BACKOFF` seconds, then lets the next call try again. `down_reason` says
why while it is down, for the health route.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import orjson
import redis

from app.server.storage import Clock, Item, StoreUnavailable, encode_doc

T = TypeVar("T")

PREFIX = "paramlab:"
# Seconds a command may take before Redis counts as down (loopback or a LAN: milliseconds).
SOCKET_TIMEOUT = 1.0
FIRST_BACKOFF = 0.25
MAX_BACKOFF = 5.0

_PUT_MANY = """
local prefix, now, delta = ARGV[1], ARGV[2], 0
for i = 3, #ARGV, 3 do
  local docs = prefix .. 'doc:' .. ARGV[i]
  delta = delta + string.len(ARGV[i + 2]) - redis.call('HSTRLEN', docs, ARGV[i + 1])
  redis.call('HSET', docs, ARGV[i + 1], ARGV[i + 2])
  redis.call('ZADD', prefix .. 'age:' .. ARGV[i], now, ARGV[i + 1])
end
return redis.call('INCRBY', KEYS[1], delta)
"""

_DELETE = """
local docs = ARGV[1] .. 'doc:' .. ARGV[2]
local size = redis.call('HSTRLEN', docs, ARGV[3])
redis.call('HDEL', docs, ARGV[3])
redis.call('ZREM', ARGV[1] .. 'age:' .. ARGV[2], ARGV[3])
return redis.call('DECRBY', KEYS[1], size)
"""

# ARGV: prefix, then (kind, cutoff) pairs: documents written before the cutoff go.
_EXPIRE = """
local prefix, dropped, freed = ARGV[1], 0, 0
for i = 2, #ARGV, 2 do
  local docs, age = prefix .. 'doc:' .. ARGV[i], prefix .. 'age:' .. ARGV[i]
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', age, '-inf', '(' .. ARGV[i + 1])) do
    freed = freed + redis.call('HSTRLEN', docs, key)
    redis.call('HDEL', docs, key)
    redis.call('ZREM', age, key)
    dropped = dropped + 1
  end
end
redis.call('DECRBY', KEYS[1], freed)
return dropped
"""

# ARGV: prefix, the cap, then the kinds in trimming order. Oldest first (ties by key, as SQLite orders them).
_TRIM = """
local prefix, cap, dropped = ARGV[1], tonumber(ARGV[2]), 0
local total = tonumber(redis.call('GET', KEYS[1]) or '0')
for i = 3, #ARGV do
  local docs, age = prefix .. 'doc:' .. ARGV[i], prefix .. 'age:' .. ARGV[i]
  while total > cap do
    local oldest = redis.call('ZRANGE', age, 0, 499)
    if #oldest == 0 then break end
    for _, key in ipairs(oldest) do
      if total <= cap then break end
      total = total - redis.call('HSTRLEN', docs, key)
      redis.call('HDEL', docs, key)
      redis.call('ZREM', age, key)
      dropped = dropped + 1
    end
  end
end
redis.call('SET', KEYS[1], total)
return dropped
"""


def connect(url: str) -> redis.Redis:
    """A client for `url` whose commands give up after `SOCKET_TIMEOUT` seconds (thread-safe: a pool)."""
    return redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT,
                                retry_on_timeout=False)


class RedisStore:
    """A Store in Redis. `clock` dates every write (as `MemoryStore`'s does)."""

    def __init__(self, client: redis.Redis, prefix: str = PREFIX, clock: Clock = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.prefix = prefix
        self._clock = clock
        self._monotonic = monotonic
        self._bytes_key = prefix + "bytes"
        self._put_many = client.register_script(_PUT_MANY)
        self._delete = client.register_script(_DELETE)
        self._expire = client.register_script(_EXPIRE)
        self._trim = client.register_script(_TRIM)
        self._lock = threading.Lock()  # the breaker's state: calls come from threads and the event loop
        self.down_reason: str | None = None
        self._retry_at = 0.0
        self._backoff = FIRST_BACKOFF

    # ---------------------------------------------------------------- the breaker

    def call(self, command: Callable[[], T]) -> T:
        """Run `command` (Redis calls) through the breaker: `StoreUnavailable` while Redis is down."""
        with self._lock:
            if self.down_reason is not None and self._monotonic() < self._retry_at:
                raise StoreUnavailable(self.down_reason)
        try:
            result = command()
        except redis.RedisError as exc:
            self.mark_down(f"Redis at {self._where()} does not answer: {exc}")
            raise StoreUnavailable(self.down_reason) from exc
        if self.down_reason is not None:
            self.mark_up()
        return result

    def _where(self) -> str:
        kwargs = self.client.connection_pool.connection_kwargs
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"

    def mark_down(self, reason: str) -> None:
        """Refuse calls for the back-off (doubling while Redis stays down)."""
        with self._lock:
            if self.down_reason is not None:
                self._backoff = min(MAX_BACKOFF, self._backoff * 2)
            self.down_reason = reason
            self._retry_at = self._monotonic() + self._backoff

    def mark_up(self) -> None:
        with self._lock:
            self.down_reason = None
            self._backoff = FIRST_BACKOFF

    def ping(self) -> bool:
        """Try Redis now (whatever the back-off): True when it answers."""
        try:
            self.client.ping()
        except redis.RedisError as exc:
            self.mark_down(f"Redis at {self._where()} does not answer: {exc}")
            return False
        self.mark_up()
        return True

    # ---------------------------------------------------------------- the Store protocol

    def _docs(self, kind: str) -> str:
        return f"{self.prefix}doc:{kind}"

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self.put_many([(kind, key, doc)])

    def put_many(self, items: Iterable[Item]) -> None:
        args: list[Any] = [self.prefix, repr(self._clock())]
        for kind, key, doc in items:
            args += (kind, key, encode_doc(doc))  # raises (TypeError) before anything is sent
        if len(args) > 2:
            self.call(lambda: self._put_many(keys=[self._bytes_key], args=args))

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        raw = self.call(lambda: self.client.hget(self._docs(kind), key))
        return None if raw is None else orjson.loads(raw)

    def delete(self, kind: str, key: str) -> None:
        self.call(lambda: self._delete(keys=[self._bytes_key], args=[self.prefix, kind, key]))

    def keys(self, kind: str) -> list[str]:
        raw = self.call(lambda: self.client.hkeys(self._docs(kind)))
        return [k.decode() for k in raw]  # type: ignore[union-attr]  # bytes from a sync client

    def expire(self, now: float, max_age: dict[str, float]) -> int:
        args: list[Any] = [self.prefix]
        for kind, age in max_age.items():
            args += (kind, repr(now - age))
        return int(self.call(lambda: self._expire(keys=[self._bytes_key], args=args)))

    def size(self) -> int:
        raw = self.call(lambda: self.client.get(self._bytes_key))
        return int(raw or 0)

    def trim(self, max_bytes: int, order: list[str]) -> int:
        args: list[str | int] = [self.prefix, max_bytes, *order]
        return int(self.call(lambda: self._trim(keys=[self._bytes_key], args=args)))

    def close(self) -> None:
        self.client.close()
