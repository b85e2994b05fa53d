"""The execution context: a write-buffered view over the store, nested per transaction.

A block executes in a root `Context` whose reads fall through to the committed store and
whose writes are buffered (nothing touches the disk until `Ledger.commit`). Each
transaction runs in `ctx.child()`; on success `child.merge()` folds its writes, fees and
events into the parent, on failure the child is simply dropped, so a failing tx leaves no
trace. Children can nest further (e.g. one payment inside a larger operation).

Values are bytes; `get_record`/`put_record` encode msgpack arrays (see state/codec.py).
Beside the writes, a scope keeps deferred work (`put_deferred`): entries, by space and
member, that a later step of the block turns into writes (the holders' rank sets,
state/revenue.py); they nest, merge and are dropped with their scope like the writes.
The context also carries the block's facts (height, header time, chain id, params) and
its fee collector: fees and protocol fees gathered during the block, paid out to the
last commit's signers at the end of the block (state/staking.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from state.codec import decode_value, encode_value
from state.errors import Code, TxError
from state.params import Params
from state.tx import MAX_AMOUNT

_MISSING = object()


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """Facts about the block being executed (never the wall clock)."""
    chain_id: str
    height: int
    time_ms: int              # header time: deterministic, agreed by consensus
    params: Params
    proposer: bytes = b""     # consensus address of the proposer
    # height -> consensus ValidatorSet that signed that height (None if unknown); read from
    # the committed records, used to check evidence against the offender's key at its height
    valset_at: Callable[[int], Any] = lambda height: None


class Context:
    __slots__ = ("block", "_parent", "_read", "_writes", "_cache", "_deferred", "fees", "events")

    def __init__(self, read: Callable[[bytes], bytes | None], block: BlockInfo,
                 parent: "Context | None" = None) -> None:
        self.block = block
        self._parent = parent
        self._read = read                 # committed-state read (root only)
        self._writes: dict[bytes, bytes | None] = {}   # None marks a delete
        # root only: committed values read so far (children never read the store directly)
        self._cache: dict[bytes, bytes | None] | None = {} if parent is None else None
        # space -> {member: value}; None marks an entry done (taken) in this scope
        self._deferred: dict[bytes, dict[bytes, Any]] = {}
        self.fees = 0                     # collected for the validators in this scope
        self.events: list[tuple] = []     # (kind, ...) facts for tx results and the demo

    # --- block facts -----------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.block.height

    @property
    def time_ms(self) -> int:
        return self.block.time_ms

    @property
    def params(self) -> Params:
        return self.block.params

    @property
    def chain_id(self) -> str:
        return self.block.chain_id

    # --- raw key/value access ----------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        c: Context | None = self
        while c is not None:
            v = c._writes.get(key, _MISSING)
            if v is not _MISSING:
                return v  # type: ignore[return-value]
            root = c
            c = c._parent
        # the committed state does not change while a block executes: read each key once
        v = root._cache.get(key, _MISSING)
        if v is _MISSING:
            v = root._cache[key] = root._read(key)
        return v  # type: ignore[return-value]

    def put(self, key: bytes, value: bytes) -> None:
        self._writes[key] = value

    def delete(self, key: bytes) -> None:
        self._writes[key] = None

    # --- encoded records -----------------------------------------------------------------
    def get_record(self, key: bytes) -> Any | None:
        v = self._writes.get(key, _MISSING)      # the common case inline: this scope wrote it
        if v is _MISSING:                        # else on up, not looking here twice
            v = self.get(key) if self._parent is None else self._parent.get(key)
        return None if v is None else decode_value(v)

    def put_record(self, key: bytes, obj: Any) -> None:
        self._writes[key] = encode_value(obj)

    # --- nesting ---------------------------------------------------------------------------
    def child(self) -> "Context":
        return Context(self._read, self.block, self)

    def merge(self) -> None:
        """Fold this scope's writes, fees and events into the parent (the scope succeeded)."""
        p = self._parent
        if p is None:
            raise RuntimeError("the root context has no parent to merge into")
        p._writes.update(self._writes)
        for space, entries in self._deferred.items():
            p._deferred.setdefault(space, {}).update(entries)
        if self.fees:
            p.collect_fee(self.fees)
        if self.events:
            p.events.extend(self.events)

    # --- deferred work ---------------------------------------------------------------------------
    def get_deferred(self, space: bytes, member: bytes) -> Any | None:
        """The pending value of `member` in `space`, or None if there is none."""
        c: Context | None = self
        while c is not None:
            entries = c._deferred.get(space)
            if entries is not None and member in entries:
                return entries[member]
            c = c._parent
        return None

    def put_deferred(self, space: bytes, member: bytes, value: Any) -> None:
        self._deferred.setdefault(space, {})[member] = value

    def deferred_spaces(self, prefix: bytes) -> list[bytes]:
        """The spaces starting with `prefix` that may hold pending entries, sorted."""
        spaces: set[bytes] = set()
        c: Context | None = self
        while c is not None:
            spaces.update(s for s in c._deferred if s.startswith(prefix))
            c = c._parent
        return sorted(spaces)

    def take_deferred(self, space: bytes) -> dict[bytes, Any]:
        """The pending entries of `space` (member -> value); they are done from now on in
        this scope (and in its parent once it merges)."""
        chain = []
        c: Context | None = self
        while c is not None:
            chain.append(c)
            c = c._parent
        pending: dict[bytes, Any] = {}
        for c in reversed(chain):                # the nearest scope's word is the last
            pending.update(c._deferred.get(space, ()))
        pending = {m: v for m, v in pending.items() if v is not None}
        if self._parent is None:
            self._deferred.pop(space, None)
        elif pending:
            self._deferred[space] = dict.fromkeys(pending)
        return pending

    # --- the block's fee collector ------------------------------------------------------------
    def collect_fee(self, amount: int) -> None:
        """Add `amount` (already debited from someone) to what this block pays its validators."""
        total = self.fees + amount
        if amount < 0 or total > MAX_AMOUNT:
            raise TxError(Code.AMOUNT_OVERFLOW, "fee collector out of range")
        self.fees = total

    def emit(self, *event: Any) -> None:
        self.events.append(event)

    def changes(self) -> dict[bytes, bytes | None]:
        """The buffered writes of this scope (for the root: the block's state changes)."""
        return self._writes
