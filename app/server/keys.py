"""Teacher keys: stored as hashes, compared in constant time.

A key is 192 random bits (`secrets.token_urlsafe(24)`), far beyond any
dictionary, so one SHA-256 without salt is enough: a copy of the store does
not hand over any room.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_key() -> str:
    return secrets.token_urlsafe(24)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(key: str | None, hashed: str | None) -> bool:
    """`key` is the one whose hash is `hashed` (False when either is missing)."""
    if key is None or hashed is None:
        return False
    return hmac.compare_digest(hash_key(key), hashed)
