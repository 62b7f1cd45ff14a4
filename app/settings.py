"""Every setting of the server, from the environment (prefix PARAMLAB_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Read once at start-up; `PARAMLAB_PORT=9000 paramlab` overrides `port`."""

    model_config = SettingsConfigDict(env_prefix="PARAMLAB_")

    host: str = "127.0.0.1"
    port: int = 8000
    # Sessions held in memory at once; creating one more is refused with a message.
    max_sessions: int = 500
    # A session nobody is connected to is dropped from memory (it stays in the store)
    # after this many seconds; a playing one first pauses after `unwatched_seconds`.
    idle_seconds: float = 1800.0
    unwatched_seconds: float = 120.0
    # A frame send that takes longer than this closes that client (it stopped reading).
    send_timeout: float = 5.0
    # Extra origins allowed to open the websocket, besides the server's own.
    allowed_origins: list[str] = []
    # Time a session may train in one turn of the scheduler before others get theirs.
    slice_seconds: float = 0.004
    # Where sessions, saved runs and rooms are stored ("sqlite" in `data_dir`, or "memory").
    store: str = "sqlite"
    data_dir: str = "data"
    # Live sessions are snapshotted to the store this often: a killed server resumes
    # every session from a state at most this many seconds old.
    snapshot_seconds: float = 2.0
    # A room's join code works for this many hours.
    room_hours: float = 12.0
    # Train on the compiled fast path (numba) when it loads; PARAMLAB_FAST_PATH=0 keeps
    # every session on the numpy reference path. Both give the same numbers.
    fast_path: bool = True
