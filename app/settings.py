"""Every setting of the server, from the environment (prefix PARAMLAB_).

Lists are given as JSON, for example `PARAMLAB_ALLOWED_HOSTS='["paramlab.school.example"]'`.
`docs/security.md` explains the limits and quotas below and why they are set as they are.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Read once at start-up; `PARAMLAB_PORT=9000 paramlab` overrides `port`."""

    model_config = SettingsConfigDict(env_prefix="PARAMLAB_")

    host: str = "127.0.0.1"
    port: int = 8000
    # The address students open when a reverse proxy stands in front of the server, for
    # example "https://paramlab.school.example": then it is the base of every room link,
    # and the server answers to its host name. Unset, room links use the machine's own
    # network addresses (`paramlab --classroom`).
    public_url: str | None = None
    # The machine's network addresses students can reach, instead of those its network
    # interfaces list: for a container whose own addresses are not the host's, or tests.
    network_addresses: list[str] | None = None
    # Sessions held in memory at once. When full, the session nobody has watched for
    # longest leaves memory (it stays in the store) to make room; only when every
    # session is watched is a new one refused, with a message.
    max_sessions: int = 500
    # A session nobody is connected to is dropped from memory (it stays in the store)
    # after this many seconds; a playing one first pauses after `unwatched_seconds`.
    idle_seconds: float = 1800.0
    unwatched_seconds: float = 5.0
    # A frame send that takes longer than this closes that client (it stopped reading).
    send_timeout: float = 5.0
    # Extra origins allowed to open the websocket and to call state-changing routes,
    # besides the server's own (for example a page that embeds Paramlab).
    allowed_origins: list[str] = []
    # Host names the server answers to, besides loopback ones (127.0.0.1, localhost, [::1])
    # and, when it listens on a non-loopback address, the machine's own names and addresses.
    # A reverse proxy's public name goes here. "*" accepts any Host (not recommended).
    allowed_hosts: list[str] = []
    # Pages that may show Paramlab in a frame (CSP frame-ancestors), besides itself.
    frame_ancestors: list[str] = []
    # Time a session may train in one turn of the scheduler before others get theirs.
    slice_seconds: float = 0.004
    # Where sessions, saved runs and rooms are stored ("sqlite" in `data_dir`, or "memory").
    store: str = "sqlite"
    # Several processes (and hosts) as one server: with a Redis URL ("redis://host:6379/0") every
    # document goes to Redis instead of `store`, a session is trained by one process at a time
    # (a lease), and room frames and messages fan out through Redis (docs/architecture.md).
    redis_url: str | None = None
    # A process that dies loses its leases after this many seconds; its sessions resume elsewhere.
    lease_seconds: float = 5.0
    data_dir: str = "data"
    # Live sessions are snapshotted to the store this often: a killed server resumes
    # every session from a state at most about this many seconds old.
    snapshot_seconds: float = 2.0
    # A room's join code works for this many hours.
    room_hours: float = 12.0
    # Train on the compiled fast path (numba) when it loads; PARAMLAB_FAST_PATH=0 keeps
    # every session on the numpy reference path. Both give the same numbers.
    fast_path: bool = True

    # ---- message budget of one websocket connection (a token bucket)
    # Messages a second a connection may send on average (a page at 60 frames/s
    # acknowledges 60 frames and a dragged slider sends about 60 changes a second).
    ws_messages_per_second: float = 200.0
    # Messages it may send at once before the average applies.
    ws_message_burst: int = 400
    # Messages refused for the budget, in a row, before the connection is closed (code 4429).
    ws_refused_before_close: int = 200
    # Room-join attempts with a wrong code: per connection and per client address, per minute.
    join_attempts_per_socket: int = 10
    join_attempts_per_address: int = 30

    # ---- quotas per client address (a classroom behind one NAT shares one address)
    # Websocket connections open at once.
    connections_per_client: int = 100
    # Sessions held in memory at once that this address created.
    sessions_per_client: int = 60
    # New sessions an address may create per minute.
    new_sessions_per_minute: int = 60
    # Sessions of an address playing at full speed ("as fast as possible") at once.
    full_speed_per_client: int = 4
    # Rooms open at once.
    rooms_per_client: int = 5
    # Background jobs of the generalization lab (cross-validation, search): running at once on
    # the whole server (each in a process of its own at the lowest priority), and held by one
    # client address at once, running or waiting.
    lab_workers: int = 1
    lab_jobs_per_client: int = 2
    # Saved runs and uploaded datasets per day, and the bytes they may add to the store per day.
    saves_per_client_per_day: int = 200
    uploads_per_client_per_day: int = 50
    stored_bytes_per_client_per_day: int = 50 * 1024 * 1024

    # ---- how long things are kept in the store (days), and its size cap
    session_days: float = 7.0
    dataset_days: float = 30.0
    run_days: float = 365.0
    # Past this size the oldest session snapshots go first, then datasets, and saved runs last.
    store_max_bytes: int = 1024 * 1024 * 1024

    # ---- websocket compression
    # permessage-deflate, which browsers offer, shrinks a binary frame to about a third (2.0 to 0.7 kB) but costs
    # the server about as much CPU again as building the frame, per client, for every frame (each connection
    # keeps its own compressor); frames go uncompressed unless this is on. A class of 30 at 20 frames a second
    # takes about 1 MB/s either way; turn it on where the network, not the CPU, is short (docs/deploy.md).
    ws_compression: bool = False

    # ---- slow HTTP clients
    # A request whose headers or body stall for this long is answered 408 and closed.
    http_timeout_seconds: float = 15.0

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        """An http(s) base URL with a host and no query or fragment; kept without its final slash."""
        if value is None or not value.strip():  # PARAMLAB_PUBLIC_URL= (empty) leaves it unset
            return None
        allowed = ("an http:// or https:// URL with a host name, and no user name, query or fragment, "
                   "such as https://paramlab.school.example")
        try:
            parts = urlsplit(value.strip())
            _ = parts.port  # a port that is not a number from 0 to 65535 raises ValueError
        except ValueError as exc:
            raise ValueError(f"PARAMLAB_PUBLIC_URL must be {allowed} (got {value!r}: {exc})") from None
        if (parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment
                or "?" in value or "#" in value or parts.username is not None or " " in value.strip()):
            raise ValueError(f"PARAMLAB_PUBLIC_URL must be {allowed} (got {value!r})")
        return value.strip().rstrip("/")

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():  # PARAMLAB_REDIS_URL= (empty) leaves it unset
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
            raise ValueError("PARAMLAB_REDIS_URL must be a Redis URL such as redis://127.0.0.1:6379/0 "
                             f"(redis://, rediss:// or unix://; got {value!r})")
        return value.strip()

    @field_validator("lease_seconds")
    @classmethod
    def _lease_seconds(cls, value: float) -> float:
        if not 1.0 <= value <= 300.0:
            raise ValueError(f"PARAMLAB_LEASE_SECONDS must be from 1 to 300 seconds (got {value})")
        return value

    @field_validator("network_addresses")
    @classmethod
    def _network_addresses(cls, value: list[str] | None) -> list[str] | None:
        for address in value or []:
            try:
                ipaddress.ip_address(address.split("%")[0])
            except ValueError:
                raise ValueError(f"PARAMLAB_NETWORK_ADDRESSES must list IP addresses such as \"192.168.1.20\" "
                                 f"(got {address!r})") from None
        return value
