"""Parsers of everything an RPC client sends: query parameters and JSON bodies.

Pure functions (plus one async body reader) so that each can be property-tested and fuzzed
without a server. Each either returns a bounded value or raises `RpcError` with a 4xx
status and a stable code; any other exception out of here is a bug.
"""
from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any, AsyncIterator

import trio

from node.keys import KeyError_, decode_address
from node.numbers import parse_uint

MAX_HEIGHT = 10**18 - 1            # heights: 1..10**18-1 (18 digits)
MAX_TIMEOUT_MS = 600_000           # broadcast_tx_commit waits at most 10 minutes
MAX_KEY_BYTES = 256               # a raw state key (/query/key)
MAX_JSON_DEPTH = 16                # our bodies nest 2 deep; json.loads recurses per level
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class RpcError(Exception):
    def __init__(self, status: int, code: str, reason: str, data: dict[str, Any] | None = None):
        super().__init__(reason)
        self.status, self.code, self.reason, self.data = status, code, reason, data


def _strict_hex(value: str) -> bytes | None:
    """`(0x)?` then pairs of ASCII hex digits, nothing else (bytes.fromhex alone would skip
    whitespace); None otherwise. Half the CPU of a regex match: every tx of every RPC batch
    passes here (docs/bench.md "CPU per committed tx")."""
    body = value[2:] if value.startswith("0x") else value
    if body and not (body.isascii() and body.isalnum()):
        return None
    try:
        return bytes.fromhex(body)  # refuses other letters and an odd length
    except ValueError:
        return None


def hex_param(name: str, value: object, length: int | None = None) -> bytes:
    if value is None:
        raise RpcError(400, "missing_param", f"parameter {name!r} is required")
    raw = _strict_hex(value) if isinstance(value, str) else None
    if raw is None:
        raise RpcError(400, "bad_param", f"parameter {name!r} is not hex")
    if length is not None and len(raw) != length:
        raise RpcError(400, "bad_param", f"parameter {name!r} must be {length} bytes, got {len(raw)}")
    return raw


def address_param(value: str) -> bytes:
    """`open1...` or 40 hex -> 20 bytes."""
    try:
        return decode_address(value)
    except KeyError_ as e:
        raise RpcError(400, "bad_address", str(e)) from None


def key_param(value: str) -> bytes:
    """A raw state key: 1..MAX_KEY_BYTES bytes of hex."""
    key = hex_param("key", value)
    if not 1 <= len(key) <= MAX_KEY_BYTES:
        raise RpcError(400, "bad_param", f"key must be 1..{MAX_KEY_BYTES} bytes")
    return key


def uint_param(name: str, value: str, lo: int, hi: int) -> int:
    try:
        return parse_uint(value, name, lo, hi)
    except ValueError as e:
        raise RpcError(400, "bad_param", str(e)) from None


def height_param(value: str | None) -> int | None:
    """`height` query parameter: absent or empty = latest."""
    if value is None or value == "":
        return None
    return uint_param("height", value, 1, MAX_HEIGHT)


def timeout_param(value: str | None, default_ms: int) -> float:
    """`timeout_ms` query parameter, in seconds."""
    if value is None:
        return default_ms / 1000
    return uint_param("timeout_ms", value, 1, MAX_TIMEOUT_MS) / 1000


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in `text` (brackets inside strings ignored);
    linear and non-recursive, so it can run before `json.loads`."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)


def parse_json(body: bytes) -> Any:
    """A body as JSON: UTF-8, nested at most MAX_JSON_DEPTH deep."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RpcError(400, "bad_json", "body is not UTF-8") from None
    if json_depth(text) > MAX_JSON_DEPTH:
        raise RpcError(400, "bad_json", f"body nests deeper than {MAX_JSON_DEPTH}")
    try:
        return json.loads(text)
    except ValueError:  # JSONDecodeError, and int() past its digit limit
        raise RpcError(400, "bad_json", "body is not JSON") from None


async def read_body(chunks: AsyncIterator[bytes], declared_length: str | None,
                    max_bytes: int, timeout_s: float) -> bytes:
    """The request body, refused past `max_bytes` (declared length first, then what
    arrives) or when it has not all arrived within `timeout_s` (a slow client holds a
    connection and its buffer for no longer than that)."""
    too_large = RpcError(413, "body_too_large", f"body exceeds {max_bytes} bytes")
    if declared_length is not None:
        try:
            declared = parse_uint(declared_length, "content-length")
        except ValueError as e:
            raise RpcError(400, "bad_header", str(e)) from None
        if declared > max_bytes:
            raise too_large
    body = bytearray()
    with trio.move_on_after(timeout_s) as scope:
        async for chunk in chunks:
            body += chunk
            if len(body) > max_bytes:
                raise too_large
    if scope.cancelled_caught:
        raise RpcError(408, "body_timeout", f"request body not received within {timeout_s:g} s")
    return bytes(body)


def tx_from_doc(doc: Any) -> bytes:
    """`{"tx": hex}` -> tx bytes."""
    if not isinstance(doc, dict) or not isinstance(doc.get("tx"), str):
        raise RpcError(400, "bad_param", "body must be {\"tx\": \"<hex>\"}")
    return hex_param("tx", doc["tx"])


def txs_from_doc(doc: Any, max_txs: int) -> list[bytes]:
    """`{"txs": [hex, ...]}` with at most `max_txs` entries -> tx bytes, in order."""
    txs = doc.get("txs") if isinstance(doc, dict) else None
    shape = RpcError(400, "bad_param", "body must be {\"txs\": [\"<hex>\", ...]}")
    if not isinstance(txs, list):
        raise shape
    if len(txs) > max_txs:
        raise RpcError(413, "too_many_txs", f"{len(txs)} txs in one request > rpc.max_batch_txs {max_txs}")
    if not all(isinstance(t, str) for t in txs):
        raise shape
    return [hex_param("tx", t) for t in txs]
