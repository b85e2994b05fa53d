"""Envelope codecs for everything that crosses the wire.

p2p/ knows message shapes, not ledger or consensus rules: votes, blocks, headers and
transactions are opaque bytes here, encoded by their own packages. Each envelope is a
msgpack array `[kind, *fields]` (positional, so its bytes are canonical). Decoding is
defensive: the size is checked before unpacking, msgpack's own limits bound every
container, and every field's type and size is checked after. Any failure raises
`MessageError(code, reason)`; the transport turns that into a dropped message and a
penalty for the sender.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable, ClassVar, TypeVar

import msgpack

MAX_TX_SIZE = 64 * 1024
MAX_TXS_PER_BATCH = 20_000
MAX_ITEM_SIZE = 4 * 1024 * 1024  # one block, header, commit or proof
MAX_ITEMS = 20_000  # ids, votes, evidence in one message
MAX_BLOCKS_PER_REQUEST = 64
MAX_LOG = 1024


class MessageError(ValueError):
    """Malformed, unknown or over-size input. `code` is stable; `reason` is for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


# --- field checkers: each returns the value converted to its Python type or raises ---
Checker = Callable[[Any, str], Any]


def uint(value: Any, name: str) -> int:
    if type(value) is not int or value < 0 or value >= 1 << 63:
        raise MessageError("bad_field", f"{name} must be an unsigned int")
    return value


def blob(max_len: int, exact: int | None = None) -> Checker:
    def check(value: Any, name: str) -> bytes:
        if type(value) is not bytes:
            raise MessageError("bad_field", f"{name} must be bytes")
        if exact is not None and len(value) != exact:
            raise MessageError("bad_field", f"{name} must be {exact} bytes")
        if len(value) > max_len:
            raise MessageError("too_large", f"{name} is {len(value)} bytes > {max_len}")
        return value

    return check


def text(max_len: int) -> Checker:
    def check(value: Any, name: str) -> str:
        if type(value) is not str or len(value) > max_len:
            raise MessageError("bad_field", f"{name} must be a str of <= {max_len} chars")
        return value

    return check


def optional(inner: Checker) -> Checker:
    def check(value: Any, name: str) -> Any:
        return None if value is None else inner(value, name)

    return check


def array_of(inner: Checker, max_items: int) -> Checker:
    # Hot path (a batch holds thousands of txs): no per-item string formatting.
    def check(value: Any, name: str) -> tuple:
        if type(value) is not list:
            raise MessageError("bad_field", f"{name} must be an array")
        if len(value) > max_items:
            raise MessageError("too_large", f"{name} has {len(value)} items > {max_items}")
        return tuple([inner(item, name) for item in value])

    return check


hash32 = blob(32, exact=32)


# --- envelopes ---
M = TypeVar("M", bound="Message")
_BY_KIND: dict[int, type["Message"]] = {}


class Message:
    KIND: ClassVar[int]
    SCHEMA: ClassVar[tuple[Checker, ...]]

    def encode(self) -> bytes:
        # Not dataclasses.astuple: it deep-copies every field (24 ms for a 600-tx batch).
        values = tuple(getattr(self, f.name) for f in fields(self))
        return msgpack.packb([self.KIND, *_plain(values)], use_bin_type=True)

    @classmethod
    def decode(cls: type[M], data: bytes, max_size: int) -> M:
        message = decode_message(data, max_size)
        if not isinstance(message, cls):
            raise MessageError("unexpected_kind", f"got {type(message).__name__}, want {cls.__name__}")
        return message


def _plain(values: tuple) -> list:
    return [list(_plain(v)) if isinstance(v, tuple) else v for v in values]


def register(kind: int, *schema: Checker) -> Callable[[type[M]], type[M]]:
    def wrap(cls: type[M]) -> type[M]:
        assert kind not in _BY_KIND, kind
        assert len(schema) == len(fields(cls)), cls
        cls.KIND = kind
        cls.SCHEMA = schema
        _BY_KIND[kind] = cls
        return cls

    return wrap


def decode_message(data: bytes, max_size: int) -> Message:
    """Decode any envelope. Never raises anything but MessageError."""
    if type(data) is not bytes:
        raise MessageError("malformed", "payload must be bytes")
    if len(data) > max_size:
        raise MessageError("too_large", f"message is {len(data)} bytes > {max_size}")
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_bin_len=MAX_ITEM_SIZE,
            max_str_len=MAX_LOG,
            max_array_len=MAX_ITEMS,
            max_map_len=0,  # no envelope uses a map
            max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises many types (ValueError, ExtraData, ...)
        raise MessageError("malformed", f"not msgpack: {type(exc).__name__}") from None
    if type(obj) is not list or not obj or type(obj[0]) is not int:
        raise MessageError("malformed", "envelope must be [kind, *fields]")
    cls = _BY_KIND.get(obj[0])
    if cls is None:
        raise MessageError("unknown_kind", f"unknown message kind {obj[0]}")
    values = obj[1:]
    if len(values) != len(cls.SCHEMA):
        raise MessageError("malformed", f"{cls.__name__} wants {len(cls.SCHEMA)} fields, got {len(values)}")
    names = [f.name for f in fields(cls)]
    try:
        return cls(*(check(v, n) for check, v, n in zip(cls.SCHEMA, values, names)))
    except MessageError:
        raise
    except Exception as exc:  # a __post_init__ check
        raise MessageError("bad_field", str(exc)) from None


# Gossip payloads -------------------------------------------------------------
@register(1, array_of(blob(MAX_TX_SIZE), MAX_TXS_PER_BATCH))
@dataclass(frozen=True)
class TxBatch(Message):
    txs: tuple[bytes, ...]


@register(2, blob(MAX_ITEM_SIZE), blob(MAX_ITEM_SIZE), array_of(hash32, MAX_ITEMS),
          array_of(blob(MAX_ITEM_SIZE), 1000), optional(blob(MAX_ITEM_SIZE)))
@dataclass(frozen=True)
class CompactProposal(Message):
    """A signed proposal with its block sent compactly: the header, the ids of its
    transactions (receivers fill in the txs they already have and fetch the rest with
    TxsRequest), its evidence and the commit of the previous height."""

    proposal: bytes
    header: bytes
    tx_ids: tuple[bytes, ...]
    evidence: tuple[bytes, ...]
    last_commit: bytes | None


@register(3, blob(64 * 1024))
@dataclass(frozen=True)
class VoteMessage(Message):
    vote: bytes


@register(4, blob(256 * 1024))
@dataclass(frozen=True)
class EvidenceMessage(Message):
    evidence: bytes


# The envelope each gossip topic carries (keyed by topic kind, p2p/ids.py); anything
# else on a topic is refused and penalised.
TOPIC_MESSAGE: dict[str, type[Message]] = {
    "txs": TxBatch, "proposals": CompactProposal, "votes": VoteMessage, "evidence": EvidenceMessage,
}


def decode_gossip(kind: str, data: bytes, max_size: int) -> Message:
    """Decode a gossip payload of topic kind `kind`. Never raises anything but MessageError."""
    message = decode_message(data, max_size)
    expected = TOPIC_MESSAGE[kind]
    if not isinstance(message, expected):
        raise MessageError("unexpected_kind", f"{type(message).__name__} on a {expected.__name__} topic")
    return message


# Requests and responses -------------------------------------------------------
@register(10)
@dataclass(frozen=True)
class StatusRequest(Message):
    pass


@register(11, uint, uint, blob(64), uint)
@dataclass(frozen=True)
class Status(Message):
    height: int  # last committed height
    round: int  # current consensus round
    app_hash: bytes
    earliest_height: int  # lowest height whose block this peer can serve


@register(12, array_of(hash32, MAX_ITEMS))
@dataclass(frozen=True)
class TxsRequest(Message):
    tx_ids: tuple[bytes, ...]


@register(13, array_of(blob(MAX_TX_SIZE), MAX_ITEMS))
@dataclass(frozen=True)
class TxsResponse(Message):
    txs: tuple[bytes, ...]  # the ones the peer has; missing ones are left out


@register(14, uint, uint)
@dataclass(frozen=True)
class BlocksRequest(Message):
    from_height: int
    to_height: int  # inclusive

    def __post_init__(self) -> None:
        if not 1 <= self.from_height <= self.to_height:
            raise ValueError("want 1 <= from_height <= to_height")
        if self.to_height - self.from_height + 1 > MAX_BLOCKS_PER_REQUEST:
            raise ValueError(f"at most {MAX_BLOCKS_PER_REQUEST} blocks per request")


def _block_with_commit(value: Any, name: str) -> tuple[bytes, bytes]:
    if type(value) is not list or len(value) != 2:
        raise MessageError("bad_field", f"{name} must be [block, commit]")
    return (blob(MAX_ITEM_SIZE)(value[0], name + ".block"), blob(MAX_ITEM_SIZE)(value[1], name + ".commit"))


@register(15, array_of(_block_with_commit, MAX_BLOCKS_PER_REQUEST))
@dataclass(frozen=True)
class BlocksResponse(Message):
    blocks: tuple[tuple[bytes, bytes], ...]  # (block, commit of that block), ascending heights


@register(16, uint, uint)
@dataclass(frozen=True)
class VotesRequest(Message):
    height: int
    round: int


@register(17, array_of(blob(64 * 1024), MAX_ITEMS))
@dataclass(frozen=True)
class VotesResponse(Message):
    votes: tuple[bytes, ...]


MAX_PUSHED_PROPOSALS = 8  # a round's proposal, for the few rounds a re-gossip covers


@register(24, uint, uint, array_of(blob(MAX_ITEM_SIZE), MAX_PUSHED_PROPOSALS),
          array_of(blob(64 * 1024), MAX_ITEMS))
@dataclass(frozen=True)
class ConsensusPush(Message):
    """Proposals and votes sent straight to one peer that may lack them (the consensus
    executor's re-gossip, a re-proposal's POL votes): gossipsub drops a re-publish of a
    message it saw within 120 s. Answered with an empty body."""
    height: int  # the height the sender is deciding
    round: int  # the sender's round
    proposals: tuple[bytes, ...]  # CompactProposal envelopes
    votes: tuple[bytes, ...]  # Vote bytes


@register(18, blob(MAX_TX_SIZE))
@dataclass(frozen=True)
class SubmitTxRequest(Message):
    tx: bytes


@register(19, uint, text(MAX_LOG), hash32)
@dataclass(frozen=True)
class SubmitTxResponse(Message):
    code: int  # 0 = accepted into the mempool
    log: str
    tx_id: bytes


@register(20, uint)
@dataclass(frozen=True)
class LightBlockRequest(Message):
    height: int  # 0 = latest


@register(21, blob(MAX_ITEM_SIZE), blob(MAX_ITEM_SIZE), blob(MAX_ITEM_SIZE))
@dataclass(frozen=True)
class LightBlockResponse(Message):
    header: bytes
    commit: bytes
    validators: bytes  # encoded ValidatorSet of that height


@register(22, blob(1024), uint)
@dataclass(frozen=True)
class ProofRequest(Message):
    key: bytes
    height: int  # 0 = latest


@register(23, uint, optional(blob(MAX_ITEM_SIZE)), blob(MAX_ITEM_SIZE))
@dataclass(frozen=True)
class ProofResponse(Message):
    height: int
    value: bytes | None  # None with a non-inclusion proof
    proof: bytes


# State sync (node/runtime/snapshots.py serves them, node/runtime/statesync.py asks) ----------------
MAX_SNAPSHOT_OFFERS = 16
MAX_SNAPSHOT_CHUNKS = 65_536  # 64 GiB of state at 1 MiB chunks
MAX_MANIFEST_BYTES = MAX_SNAPSHOT_CHUNKS * 32 + 256


def _snapshot_offer(value: Any, name: str) -> tuple[int, int, int, bytes]:
    if type(value) is not list or len(value) != 4:
        raise MessageError("bad_field", f"{name} must be [height, format, chunks, manifest_hash]")
    height, fmt, chunks = uint(value[0], name + ".height"), uint(value[1], name + ".format"), \
        uint(value[2], name + ".chunks")
    if chunks > MAX_SNAPSHOT_CHUNKS:
        raise MessageError("too_large", f"{name}.chunks {chunks} > {MAX_SNAPSHOT_CHUNKS}")
    return height, fmt, chunks, hash32(value[3], name + ".manifest_hash")


@register(40)
@dataclass(frozen=True)
class SnapshotsRequest(Message):
    pass


@register(41, array_of(_snapshot_offer, MAX_SNAPSHOT_OFFERS))
@dataclass(frozen=True)
class SnapshotsResponse(Message):
    offers: tuple[tuple[int, int, int, bytes], ...]  # (height, format, chunks, manifest hash)


@register(42, uint)
@dataclass(frozen=True)
class ManifestRequest(Message):
    height: int


@register(43, blob(MAX_MANIFEST_BYTES))
@dataclass(frozen=True)
class ManifestResponse(Message):
    manifest: bytes


@register(44, uint, uint)
@dataclass(frozen=True)
class ChunkRequest(Message):
    height: int
    index: int


@register(45, blob(MAX_ITEM_SIZE))
@dataclass(frozen=True)
class ChunkResponse(Message):
    chunk: bytes
