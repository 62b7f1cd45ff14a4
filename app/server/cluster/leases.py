"""Ownership leases: a session is trained by one process at a time.

`<prefix>lease:<session id>` holds the name of the process that trains the
session, and lapses `ttl` seconds after it was last renewed: a process that
dies loses its sessions within one TTL, and another resumes them from their
last snapshot. A process takes a lease with `SET NX PX` (only if nobody holds
it), renews every lease it holds in one script, and gives one up with a
compare-and-delete script (never deleting a lease another process took after
ours lapsed).

The calls are short Redis round trips made on the event loop, as the store's
reads are; while Redis is down they fail fast (`StoreUnavailable`) through the
store's breaker.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.server.cluster.store import RedisStore

# Renews only what is ours; a lease that lapsed (Redis restarted, or a long stall) is taken
# again when nobody else took it meanwhile. Returns the sessions held by another process now.
_RENEW = """
local lost = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  elseif not holder then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  else
    table.insert(lost, i)
  end
end
return lost
"""

_RELEASE = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
"""


class Leases:
    """The leases of process `name` (unique per process run) in `store`'s Redis."""

    def __init__(self, store: RedisStore, name: str, ttl_seconds: float) -> None:
        self.store = store
        self.name = name
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        self._renew = store.client.register_script(_RENEW)
        self._release = store.client.register_script(_RELEASE)

    def key(self, session_id: str) -> str:
        return f"{self.store.prefix}lease:{session_id}"

    def acquire(self, session_id: str) -> str | None:
        """Take (or keep) the lease of `session_id`: None when it is ours now, else the name of the
        process holding it."""
        client, key = self.store.client, self.key(session_id)

        def take() -> str | None:
            if client.set(key, self.name, nx=True, px=self.ttl_ms):
                return None
            holder = client.get(key)
            if holder is None:  # lapsed between the two calls: try once more
                return None if client.set(key, self.name, nx=True, px=self.ttl_ms) else "another process"
            name = holder.decode()  # type: ignore[union-attr]  # bytes from a sync client
            if name == self.name:
                client.pexpire(key, self.ttl_ms)
                return None
            return name

        return self.store.call(take)

    def holder(self, session_id: str) -> str | None:
        """The process holding `session_id`'s lease, or None when nobody does."""
        raw = self.store.call(lambda: self.store.client.get(self.key(session_id)))
        return None if raw is None else raw.decode()  # type: ignore[union-attr]  # bytes from a sync client

    def renew(self, session_ids: Iterable[str]) -> list[str]:
        """Renew the leases of `session_ids` (taking back those that lapsed and nobody took);
        returns the ids another process holds now: they are no longer ours to train."""
        ids = list(session_ids)
        if not ids:
            return []
        lost = self.store.call(lambda: self._renew(keys=[self.key(s) for s in ids], args=[self.name, self.ttl_ms]))
        return [ids[int(i) - 1] for i in lost]

    def release(self, session_ids: Iterable[str]) -> int:
        """Give up the leases of `session_ids` that are still ours; returns how many."""
        keys = [self.key(s) for s in session_ids]
        if not keys:
            return 0
        return int(self.store.call(lambda: self._release(keys=keys, args=[self.name])))
