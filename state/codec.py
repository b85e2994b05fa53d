"""Encoding of state values and records: msgpack arrays of ints, bytes, strs, bools.

Positional arrays (never maps) so that equal values have equal bytes, which the app hash
depends on. Decoding is trusted here: state values were written by this code."""
from __future__ import annotations

from typing import Any

import msgpack

_packer = msgpack.Packer(use_bin_type=True)


def encode_value(obj: Any) -> bytes:
    return _packer.pack(obj)


def decode_value(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, use_list=True)
