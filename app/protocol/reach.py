"""Where students can reach this server (`GET /api/reach`): the page builds a room's
join link and QR code from it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Reach(BaseModel):
    """The base URLs a student's device can open, best first, or why there is none."""

    public_url: str | None = Field(
        description="The reverse proxy's address (PARAMLAB_PUBLIC_URL), when set: then the only entry of `urls`")
    urls: list[str] = Field(
        description="Base URLs of this server that students can open, best first, without a final slash "
                    "(a room's link is a base URL followed by the room's `link`, such as `/?room=K7QX2M`)")
    reachable: bool = Field(description="Whether there is any such URL (false: the server listens on loopback only)")
    advice: str | None = Field(
        description="When nothing is reachable: what to run instead, in plain words, to show the teacher")

    model_config = {"json_schema_extra": {"examples": [
        {"public_url": None, "urls": ["http://192.168.1.20:8000", "http://[fd00::20]:8000"],
         "reachable": True, "advice": None}]}}
