"""Live sessions held by the server, and the clients watching each one."""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import time
from collections.abc import Iterable
from typing import Any, Protocol

from app.server.keys import hash_key, key_matches
from app.server.shared_rows import SharedRows
from app.server.storage import Store, StoreUnavailable
from app.training.config import HyperState, RunConfig
from app.training.persist import restore_session, session_state
from app.training.session import TrainingSession


class Client:
    """One websocket watching a session: its frame rate, what its frames carry, and flow-control state."""

    def __init__(self, fps: int, frames: str = "json", parts: frozenset[str] | None = None,
                 inspect: tuple[int, str, int, int] | None = None) -> None:
        self.fps = fps
        self.frames = frames          # "json" or "binary"
        self.parts = parts            # the optional parts its frames carry (None: every one)
        self.inspect = inspect        # (layer, kind, i, j) of the parameter watched, whose exact numbers frames carry
        self.wake = asyncio.Event()   # set when the session changed or an ack arrived
        self.seq = 0                  # last frame sent
        self.acked = 0                # last frame acknowledged
        self.sent_version = -1        # session.version shown by the last frame
        self.history_step = -1        # last step whose history this client has
        self.change_index = 0         # changes already sent
        self.next_send = 0.0          # perf_counter time before which no frame goes out
        self.hurried = False          # its next frame was brought forward by a control it sent (ws.hurry)
        self.last_hurry = -math.inf   # perf_counter time a control last brought a frame forward
        self.pausing: asyncio.Future[None] | None = None  # the frame sender's wait for next_send (ws.pause)
        self.rebuilds = -1            # live.rebuilds when session, dataset and history were last sent


class LiveSession:
    """A training session in memory, with its playing state and its clients."""

    def __init__(self, session_id: str, session: TrainingSession) -> None:
        self.id = session_id
        self.session = session
        self.playing = False
        self.updates_per_second: float | None = 250.0
        self.credit = 0.0          # updates owed by the clock, not yet run
        self.last_tick = time.perf_counter()
        self.clients: set[Client] = set()
        self.last_seen = time.monotonic()
        self.saved_version = -1     # session.version of the last snapshot in the store
        self.owner_key_hash: str | None = None  # a room's teacher key, hashed: only its holder may drive it
        self.address: str | None = None    # the client address that created it (quotas)
        self.rebuilds = 0          # bumped when data or network are rebuilt: every client gets them anew
        # The encoded frame body, shared by every client that asked for the same content:
        # (format, parts) -> (the state it shows, its bytes).
        self.body_cache: dict[tuple[str, frozenset[str] | None], tuple[tuple[Any, ...], Any]] = {}
        self.history_rows = SharedRows()  # the history rows of its clients' frame heads
        # The last finished lab job of each kind ("cross_validation", "search"): its result, for the
        # CSV and model exports. In memory only: not in snapshots or saved runs.
        self.lab_results: dict[str, dict[str, Any]] = {}
        # Set when the session left this process for another (a hand-over, or its lease was
        # lost): its clients are closed with a code that tells the page to reconnect.
        self.moved = False

    def notify(self) -> None:
        """Wake every client: there is something new to show. Those whose control made it go first
        (`ws.hurry`): their senders run in the order they were woken, and a room's teacher is one
        client among hundreds of followers."""
        for client in self.clients:
            if client.hurried:
                client.wake.set()
        for client in self.clients:
            client.wake.set()

    def move_away(self) -> None:
        """The session now lives in another process: its clients here are let go."""
        self.moved = True
        self.notify()

    def set_playing(self, playing: bool) -> None:
        self.playing = playing
        self.credit = 0.0
        self.last_tick = time.perf_counter()

    def set_owner(self, key_hash: str | None) -> None:
        """Give the session to a room's teacher (their key's hash), or back to no room
        (None); the next snapshot stores it, even if nothing else changed."""
        self.owner_key_hash = key_hash
        self.saved_version = -1

    def owned_by(self, key: str | None) -> bool:
        """`key` is this session's room teacher key (False when it belongs to no room)."""
        return key_matches(key, self.owner_key_hash)

    @property
    def full_speed(self) -> bool:
        return self.playing and self.updates_per_second is None

    def to_doc(self) -> dict[str, Any]:
        """The snapshot stored for this session."""
        return {"state": session_state(self.session), "playing": self.playing,
                "updates_per_second": self.updates_per_second, "owner_key_hash": self.owner_key_hash,
                "address": self.address}

    @classmethod
    def from_doc(cls, session_id: str, doc: dict[str, Any]) -> LiveSession:
        live = cls(session_id, restore_session(doc["state"]))
        live.updates_per_second = doc.get("updates_per_second", 250.0)
        live.owner_key_hash = doc.get("owner_key_hash")
        if live.owner_key_hash is None and doc.get("owner_key"):  # stored before keys were hashed
            live.owner_key_hash = hash_key(doc["owner_key"])
        live.address = doc.get("address")
        live.set_playing(bool(doc.get("playing")) and live.session.diverged is None)
        live.saved_version = live.session.version
        return live


class RegistryFull(Exception):
    pass


class Leases(Protocol):
    """Which process trains a session, when several share a store (`cluster.leases.Leases`)."""

    def acquire(self, session_id: str) -> str | None:
        """Take the session's lease: None when ours now, else the name of the process holding it."""
        ...

    def release(self, session_ids: Iterable[str]) -> int: ...


class Registry:
    """All live sessions by id; those not in memory come back from the store.

    Several server processes may share one store (SQLite): a reconnect can
    reach any of them. The process that last brought a session in from the
    store owns it (an "owner" document names it); another process still
    holding a copy nobody watches drops it instead of training it and
    overwriting the owner's snapshots, and a hello that reaches it loads
    the owner's newest snapshot rather than its own stale copy.

    With `leases` (Redis) a lease decides instead: a session is brought in
    from the store only by the process that takes its lease, and leaves memory
    with its lease given up (`drop`).
    """

    def __init__(self, max_sessions: int, store: Store) -> None:
        self.max_sessions = max_sessions
        self.store = store
        self.token = secrets.token_urlsafe(9)  # this process, as named in "owner" documents
        self.sessions: dict[str, LiveSession] = {}
        self.work = asyncio.Event()  # set when some session starts playing
        self._spare = asyncio.Event()  # set when the training loop found no turn due
        self.leases: Leases | None = None
        self._loading: dict[str, asyncio.Future[LiveSession | None]] = {}  # `load`s in progress, by id

    def mark_spare(self) -> None:
        """The training loop has time to spare: background work may run now."""
        self._spare.set()

    async def spare(self, timeout: float) -> None:
        """Wait for the training loop to have time to spare, but at most `timeout`
        seconds: background work yields to live sessions, without starving."""
        if not any(s.playing for s in self.sessions.values()):
            return  # nothing is training
        self._spare.clear()
        try:
            await asyncio.wait_for(self._spare.wait(), timeout)
        except TimeoutError:
            pass

    def _check_room(self) -> None:
        """Make room for one more session: when full, the session nobody has watched
        for longest is stored and leaves memory (its owner gets it back from the
        store); only when every session is watched is a new one refused."""
        if len(self.sessions) >= self.max_sessions and not self.store_oldest_unwatched():
            raise RegistryFull(f"the server holds at most {self.max_sessions} sessions, all in use; "
                               "try again later")

    def store_oldest_unwatched(self, address: str | None = None) -> bool:
        """Move the session nobody has watched for longest (of `address`, if given)
        from memory to the store; False when every such session is watched."""
        unwatched = [s for s in self.sessions.values()
                     if not s.clients and (address is None or s.address == address)]
        if not unwatched:
            return False
        oldest = min(unwatched, key=lambda s: s.last_seen)
        doc = self.snapshot(oldest)
        if doc is not None:
            self.store.put("session", oldest.id, doc)
        self.drop(oldest.id)
        return True

    def drop(self, session_id: str) -> None:
        """The session leaves memory (stored first by the caller); its lease, if any, is given up."""
        self.sessions.pop(session_id, None)
        if self.leases is not None:
            with contextlib.suppress(StoreUnavailable):  # it lapses by itself
                self.leases.release([session_id])

    def make_room_for(self, address: str, most: int) -> None:
        """Before `address` adds a session: when it holds `most` already, its own
        longest-unwatched one leaves memory (one student's flood of sessions
        then never locks out a classmate behind the same address)."""
        if self.held_by(address) >= most:
            self.store_oldest_unwatched(address)

    def create(self, config: RunConfig, hyper: HyperState, address: str | None = None) -> LiveSession:
        """Build a new session; raises RegistryFull past the limit, ValueError on a bad config."""
        self._check_room()
        return self.adopt(TrainingSession(config, hyper), address)

    def adopt(self, session: TrainingSession, address: str | None = None) -> LiveSession:
        """Hold an already built session (a fork, a saved run) under a new id."""
        self._check_room()
        live = LiveSession(secrets.token_urlsafe(9), session)
        live.address = address
        self.sessions[live.id] = live
        if self.leases is not None:
            # A new id: nobody else holds it. With Redis down the renewal takes it once it is back.
            with contextlib.suppress(StoreUnavailable):
                self.leases.acquire(live.id)
        return live

    def held_by(self, address: str) -> int:
        """Sessions in memory that `address` created."""
        return sum(1 for s in self.sessions.values() if s.address == address)

    def full_speed_of(self, address: str | None) -> int:
        """Sessions of `address` playing as fast as possible."""
        return sum(1 for s in self.sessions.values() if s.address == address and s.full_speed)

    def owned_elsewhere(self, session_id: str) -> bool:
        """Another process sharing the store brought this session in after we did (no leases:
        with leases another process never holds a session this one trains)."""
        if self.leases is not None:
            return False
        doc = self.store.get("owner", session_id)
        return doc is not None and doc.get("owner") != self.token

    def snapshot(self, live: LiveSession) -> dict[str, Any] | None:
        """The document to store for `live`, or None when nothing changed since the last one."""
        if live.saved_version == live.session.version:
            return None
        if not live.clients and self.owned_elsewhere(live.id):
            self.sessions.pop(live.id, None)  # another process resumed it: leave it to that one
            return None
        live.saved_version = live.session.version
        return live.to_doc()

    async def load(self, session_id: str) -> LiveSession | None:
        """The live session, brought back from the store if it was evicted, the server restarted, or
        another process took it over meanwhile; None when unknown. The store's calls (a lease, a snapshot read) and the rebuild of a
        stored session (its data regenerated: milliseconds) run in a thread, so bringing one session
        back holds up nobody's frames. Loads of one id at once share one."""
        live = self.sessions.get(session_id)
        if live is not None and (self.leases is not None or live.clients):
            live.last_seen = time.monotonic()  # held here, and no other process can have a newer copy
            return live
        pending = self._loading.get(session_id)
        if pending is None:
            pending = self._loading[session_id] = asyncio.ensure_future(self._load(session_id))
            pending.add_done_callback(lambda _: self._loading.pop(session_id, None))
        return await asyncio.shield(pending)

    async def _load(self, session_id: str) -> LiveSession | None:
        live = self.sessions.get(session_id)
        if live is not None and not live.clients and await asyncio.to_thread(self.owned_elsewhere, session_id):
            if self.sessions.get(session_id) is live and not live.clients:
                del self.sessions[session_id]  # a stale copy: the owner's snapshot is newer
            live = None
        if live is None:
            live = await self._bring_in(session_id)
            if live is None:
                return None
        live.last_seen = time.monotonic()
        return live

    async def _bring_in(self, session_id: str) -> LiveSession | None:
        """The stored session, rebuilt in a thread and held here; None when there is none, another
        process trains it, there is no room, or its snapshot is of an incompatible version."""
        if self.leases is not None and await asyncio.to_thread(self.leases.acquire, session_id) is not None:
            return None  # another process trains it (`cluster.node.Node.claim` asks for it)
        live = None
        try:
            doc = await asyncio.to_thread(self.store.get, "session", session_id)
            if doc is None:
                return None
            self._check_room()
            live = await asyncio.to_thread(LiveSession.from_doc, session_id, doc)
        except RegistryFull:
            return None
        except (ValueError, KeyError, TypeError):
            return None  # a snapshot from an incompatible version: start afresh
        finally:
            if live is None and self.leases is not None:
                with contextlib.suppress(StoreUnavailable):  # it lapses by itself
                    await asyncio.to_thread(self.leases.release, [session_id])  # not brought in after all
        here = self.sessions.get(session_id)
        if here is not None:
            return here  # brought in meanwhile (a fork adopted under this id cannot be: ids are new)
        try:
            self._check_room()  # sessions may have been added while it was rebuilt
        except RegistryFull:
            if self.leases is not None:
                with contextlib.suppress(StoreUnavailable):
                    await asyncio.to_thread(self.leases.release, [session_id])
            return None
        self.sessions[session_id] = live
        if self.leases is None:
            await asyncio.to_thread(self.store.put, "owner", session_id, {"owner": self.token})
        if live.playing:
            self.work.set()
        return live

    async def restore_all(self) -> int:
        """Bring back every stored session that was playing (a restart resumes them)."""
        count = 0
        for key in await asyncio.to_thread(self.store.keys, "session"):
            doc = await asyncio.to_thread(self.store.get, "session", key)
            if doc and doc.get("playing") and key not in self.sessions and await self.load(key) is not None:
                count += 1
        return count

    def playing(self) -> list[LiveSession]:
        return [s for s in self.sessions.values() if s.playing]

    def unwatched(self, seconds: float) -> list[LiveSession]:
        """Playing sessions nobody has watched for `seconds`."""
        now = time.monotonic()
        return [s for s in self.sessions.values() if s.playing and not s.clients and now - s.last_seen > seconds]

    def idle(self, idle_seconds: float) -> list[LiveSession]:
        """Sessions nobody has watched for `idle_seconds` (not playing: a playing one is still at work)."""
        now = time.monotonic()
        return [s for s in self.sessions.values()
                if not s.clients and not s.playing and now - s.last_seen > idle_seconds]
