"""The Redis settings are checked when the server starts: a URL that is not Redis's, or a lease
time out of range, stops it with a message saying what is allowed; empty means unset."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import Settings


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6390/0", "rediss://cache.school.example:6380/1",
                                 "redis://:secret@10.0.0.5:6379/0", "unix:///run/redis/redis.sock"])
def test_a_redis_url_is_taken_as_given(url: str) -> None:
    assert Settings(redis_url=url).redis_url == url


@pytest.mark.parametrize("url", ["", "  "])
def test_an_empty_redis_url_leaves_the_embedded_default(url: str) -> None:
    assert Settings(redis_url=url).redis_url is None


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis://", "6379"])
def test_a_url_that_is_not_redis_is_refused_with_what_is_allowed(url: str) -> None:
    with pytest.raises(ValidationError, match="PARAMLAB_REDIS_URL must be a Redis URL such as redis://"):
        Settings(redis_url=url)


@pytest.mark.parametrize("seconds", [0.5, 301.0, -1.0])
def test_a_lease_time_out_of_range_is_refused(seconds: float) -> None:
    with pytest.raises(ValidationError, match="PARAMLAB_LEASE_SECONDS must be from 1 to 300 seconds"):
        Settings(lease_seconds=seconds)


def test_a_lease_time_must_be_a_number() -> None:
    with pytest.raises(ValidationError):
        Settings(lease_seconds="five")  # type: ignore[arg-type]
