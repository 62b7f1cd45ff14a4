"""The binary frame: a small JSON header and the layers' arrays as little-endian numbers.

One websocket binary message (`docs/protocol.md`, "Binary frames"):

    bytes 0-3   magic b"PLF1"
    bytes 4-7   N, the header's length in bytes (uint32, little-endian)
    bytes 8..   the header: N bytes of UTF-8 JSON, padded with spaces so that 8 + N is a multiple of 8
    then        the data: each block of `header["arrays"]` at its `offset` from the data's start

A block holds one kind of array of every layer, in the order W0, b0, W1, b1,
... (each `W` row-major, `[n_in x n_out]`), so a kind costs one conversion
and one copy whatever the number of layers. The header is the JSON frame
without `layers`, plus `sizes` (the layer sizes, inputs first) and `arrays`
(the block table).

The heavy part (the header without its per-client fields, and the data) is
encoded once per state and shared by every client that asked for the same
content (`encode_body`); each client's frame is its own head spliced in front
(`frame_message`), as the JSON frame does.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.protocol.encoding import encode

MAGIC = b"PLF1"
PREFIX = struct.Struct("<4sI")  # magic, header length
ALIGN = 8                       # the data starts at a multiple of 8 bytes: typed arrays can view it in place
# Wire dtypes: name in the header -> numpy dtype. Blocks are laid out by falling item size (float64,
# then float32 and counts, then bytes), so every block's offset is a multiple of its item size.
DTYPES: dict[str, np.dtype[Any]] = {"f8": np.dtype("<f8"), "f4": np.dtype("<f4"), "u4": np.dtype("<u4"),
                                    "u1": np.dtype("u1")}


@dataclass(frozen=True)
class Block:
    """One kind of array of every layer: `keys` names its `W` and `b` parts in a layer
    (for example `("dW", "db")`); `arrays` is `[W0, b0, W1, b1, ...]`."""

    keys: tuple[str, str]
    dtype: str
    arrays: Sequence[NDArray[Any]]


@dataclass(frozen=True)
class EncodedBody:
    """A frame's shared part: the header's JSON without its opening brace, and the data."""

    header_tail: bytes
    data: bytes


def _flat(arrays: Sequence[NDArray[Any]], dtype: np.dtype[Any]) -> bytes:
    # One concatenation and one conversion per kind, not one per array.
    return np.concatenate([a.ravel() for a in arrays], dtype=dtype, casting="unsafe").tobytes()


def encode_body(header: Mapping[str, Any], sizes: Sequence[int], blocks: Sequence[Block]) -> EncodedBody:
    """The shared part of a frame: `header` (the JSON frame's fields without `layers`) with
    `sizes` and the block table, and the blocks' data."""
    table = []
    chunks = []
    offset = 0
    with np.errstate(over="ignore", invalid="ignore"):  # a float64 past float32's range is sent as +-Infinity
        flats = [(block, _flat(block.arrays, DTYPES[block.dtype]))
                 for block in sorted(blocks, key=lambda b: -DTYPES[b.dtype].itemsize)]
    for block, data in flats:
        table.append({"keys": list(block.keys), "dtype": block.dtype, "offset": offset,
                      "count": len(data) // DTYPES[block.dtype].itemsize})
        chunks.append(data)
        offset += len(data)
    chunks.append(b"\0" * (-offset % 4))  # the data's length is a multiple of 4
    full = {**header, "sizes": list(sizes), "arrays": table}
    return EncodedBody(encode(full)[1:], b"".join(chunks))


def frame_message(head: bytes, body: EncodedBody) -> bytes:
    """One client's binary frame: its `head` (type, seq, history, ... as a JSON object) and the shared `body`."""
    header = head[:-1] + b"," + body.header_tail
    header += b" " * (-(PREFIX.size + len(header)) % ALIGN)
    return PREFIX.pack(MAGIC, len(header)) + header + body.data
