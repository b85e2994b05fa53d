"""The ledger's LevelDB store: state, its authenticated tree, history and records.

One `commit` writes, in ONE synced WriteBatch, everything a block produced: the changed
state keys, their versions, the new tree nodes, the non-merkleized records (block, tx
index...), the new height and its root. A crash before the write leaves the previous
height intact; LevelDB's log makes the batch all-or-nothing after it.

Layout (one-byte table prefixes):
    S key                     -> value            latest committed state (fast `get`)
    V keyhash height(8, BE)   -> 01 value | 00    every version (`get_at`, proofs); 00 = deleted
    N nodehash                -> encoded node     tree nodes, content-addressed
    H height(8, BE)           -> root ref         one per committed height (b"" = empty tree)
    R key                     -> value            records, not in the app hash
    M height                  -> height(8, BE)    last committed height
The tree (state/tree.py) is keyed by sha256(key); since nodes are content-addressed and
never overwritten, every committed root stays provable ("historical proofs for free").
"""
from __future__ import annotations

from hashlib import sha256
from time import perf_counter
from pathlib import Path
from typing import Mapping

import plyvel

from state.proof import encode_proof
from state.tree import (
    EMPTY_ROOT,
    RADIX,
    TreeUpdate,
    compute_root_hash,
    walk_path,
)

MAX_KEY_BYTES = 1024
_HEIGHT_KEY = b"Mheight"
_DELETED = b"\x00"
_PRESENT = b"\x01"


class StoreError(Exception):
    """A refused store operation: a stable `code` and a message naming the reason."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _be8(n: int) -> bytes:
    return n.to_bytes(8, "big")


class Store:
    """State over plyvel. `height` is the last committed height (0 and the empty root
    when nothing was committed yet); the first commit may be at any height >= 0 (genesis),
    every later one at exactly `height + 1`."""

    def __init__(self, path: str | Path, *, node_cache_size: int = 2_000_000,
                 lru_cache_size: int = 64 << 20):
        self._db = plyvel.DB(str(path), create_if_missing=True,
                             lru_cache_size=lru_cache_size, write_buffer_size=64 << 20)
        # encodings of the latest tree's nodes seen so far (replaced ones are dropped)
        self._cache: dict[bytes, bytes] = {}
        self._cache_limit = node_cache_size
        self.last_commit_timings: dict[str, float] = {}
        raw = self._db.get(_HEIGHT_KEY)
        self._empty = raw is None
        self._height = 0 if raw is None else int.from_bytes(raw, "big")
        self._root: bytes | None = None
        if raw is not None:
            self._root = self._load_root(self._height)

    # --- reads -----------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self._height

    @property
    def app_hash(self) -> bytes:
        return compute_root_hash(self._root)

    def get(self, key: bytes) -> bytes | None:
        """Latest committed value of `key`, or None."""
        return self._db.get(b"S" + key)

    def get_at(self, key: bytes, height: int) -> bytes | None:
        """Value of `key` as committed at `height` (any committed height)."""
        self._require_committed(height)
        return self._value_at(sha256(key).digest(), height)

    def get_record(self, key: bytes) -> bytes | None:
        return self._db.get(b"R" + key)

    def app_hash_at(self, height: int) -> bytes:
        self._require_committed(height)
        return compute_root_hash(self._load_root(height))

    def prove(self, key: bytes, height: int | None = None) -> tuple[bytes | None, bytes]:
        """(value or None, proof) for `key` at `height` (default: latest), to be checked
        with `state.proof.verify_proof(app_hash_at(height), key, value, proof)`."""
        if not isinstance(key, bytes):
            raise StoreError("bad_key", "key must be bytes")
        if height is None:
            height = self._height
        self._require_committed(height)
        root = self._load_root(height)
        kh = sha256(key).digest()
        path, terminal = walk_path(self._peek_node, root, kh)
        levels = []
        for encoding, nib in path:
            kinds = encoding[:RADIX]
            off = RADIX + 32 * sum(kinds[:nib])
            end = off + 32 * kinds[nib]
            levels.append((kinds, encoding[RADIX:off] + encoding[end:]))
        value = None
        other = None
        if terminal is not None:
            if terminal[:32] == kh:
                value = self._value_at(kh, height)
                if value is None or sha256(value).digest() != terminal[32:]:
                    raise StoreError("corrupt", "tree leaf does not match the stored value")
            else:
                other = (terminal[:32], terminal[32:])
        return value, encode_proof(levels, other)

    # --- the one write ---------------------------------------------------------------
    def commit(self, height: int, changes: Mapping[bytes, bytes | None],
               records: Mapping[bytes, bytes | None] | None = None) -> bytes:
        """Apply `changes` (None deletes) and `records` as block `height`, in one synced
        WriteBatch; return the new app hash. Raises StoreError (and changes nothing) on a
        wrong height or ill-typed key/value."""
        expected_ok = (height >= 0) if self._empty else (height == self._height + 1)
        if type(height) is not int or not expected_ok:
            raise StoreError("bad_height", f"cannot commit height {height!r} after {self._height}")
        t0 = perf_counter()
        items = []
        for key, value in changes.items():
            _check_key(key)
            if value is not None and not isinstance(value, bytes):
                raise StoreError("bad_value", f"value for {key!r} must be bytes or None")
            kh = sha256(key).digest()
            ref = None if value is None else kh + sha256(value).digest()
            items.append((kh, ref, key, value))
        items.sort(key=_first)
        update = TreeUpdate(self._load_node)
        new_root = update.apply(self._root, [(kh, ref) for kh, ref, _, _ in items])
        t1 = perf_counter()

        batch = self._db.write_batch(sync=True)
        hkey = _be8(height)
        put = batch.put
        for kh, _ref, key, value in items:
            if value is None:
                batch.delete(b"S" + key)
                put(b"V" + kh + hkey, _DELETED)
            else:
                put(b"S" + key, value)
                put(b"V" + kh + hkey, _PRESENT + value)
        for h, blob in update.new_nodes.items():
            put(b"N" + h, blob)
        if records:
            for key, value in records.items():
                _check_key(key)
                if value is None:
                    batch.delete(b"R" + key)
                elif isinstance(value, bytes):
                    put(b"R" + key, value)
                else:
                    raise StoreError("bad_value", f"record {key!r} must be bytes or None")
        put(b"H" + hkey, new_root or b"")
        put(_HEIGHT_KEY, hkey)
        t2 = perf_counter()
        self._write(batch)
        t3 = perf_counter()

        # only now, with the batch durable, does the in-memory view move on
        self._height = height
        self._root = new_root
        self._empty = False
        self._remember(update)
        # seconds per phase of the last commit, for benchmarks (never part of the state)
        self.last_commit_timings = {"tree": t1 - t0, "batch": t2 - t1, "write": t3 - t2,
                                    "nodes": len(update.new_nodes)}
        return compute_root_hash(new_root)

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- internals -------------------------------------------------------------------
    def _write(self, batch) -> None:
        batch.write()

    def _remember(self, update: TreeUpdate) -> None:
        cache = self._cache
        for h in update.replaced:
            cache.pop(h, None)
        room = self._cache_limit - len(cache)
        if room >= len(update.new_nodes):
            cache.update(update.new_nodes)
        elif room > 0:
            for h, enc in list(update.new_nodes.items())[:room]:
                cache[h] = enc

    def _load_node(self, h: bytes) -> bytes:
        encoding = self._cache.get(h)
        if encoding is None:
            encoding = self._db.get(b"N" + h)
            if encoding is None:
                raise StoreError("corrupt", f"missing tree node {h.hex()}")
            if len(self._cache) < self._cache_limit:
                self._cache[h] = encoding
        return encoding

    def _peek_node(self, h: bytes) -> bytes:
        """Like _load_node but leaves the cache alone (historical nodes would stick)."""
        encoding = self._cache.get(h) or self._db.get(b"N" + h)
        if encoding is None:
            raise StoreError("corrupt", f"missing tree node {h.hex()}")
        return encoding

    def _load_root(self, height: int) -> bytes | None:
        raw = self._db.get(b"H" + _be8(height))
        if raw is None:
            raise StoreError("unknown_height", f"height {height} was not committed")
        return raw or None

    def _require_committed(self, height: int) -> None:
        if type(height) is not int or height < 0:
            raise StoreError("bad_height", f"height must be an int >= 0, got {height!r}")
        if self._empty or height > self._height or self._db.get(b"H" + _be8(height)) is None:
            raise StoreError("unknown_height", f"height {height} was not committed")

    def _value_at(self, kh: bytes, height: int) -> bytes | None:
        prefix = b"V" + kh
        it = self._db.raw_iterator()
        try:
            it.seek(prefix + _be8(height + 1))
            if it.valid():
                it.prev()
            else:
                it.seek_to_last()
            if not it.valid():
                return None
            k = it.key()
            if k[:33] != prefix:
                return None
            v = it.value()
        finally:
            it.close()
        return None if v[:1] == _DELETED else v[1:]


def _first(item):
    return item[0]


def _check_key(key) -> None:
    if not isinstance(key, bytes):
        raise StoreError("bad_key", f"key must be bytes, got {type(key).__name__}")
    if len(key) > MAX_KEY_BYTES:
        raise StoreError("bad_key", f"key of {len(key)} bytes exceeds {MAX_KEY_BYTES}")


__all__ = ["Store", "StoreError", "EMPTY_ROOT"]
