"""The ledger's LevelDB store: state, its authenticated tree, history and records.

One `commit` writes, in ONE synced WriteBatch, everything a block produced: the changed
state keys, their versions, the new tree nodes, the non-merkleized records (block, tx
index...), the new height and its root. A crash before the write leaves the previous
height intact; LevelDB's log makes the batch all-or-nothing after it.

Layout (one-byte table prefixes):
    S key                     -> value            latest committed state (fast `get`)
    V keyhash height(8, BE)   -> 01 value | 00    every version (`get_at`, proofs); 00 = deleted
    N nodehash                -> encoded node || born(8, BE)   tree nodes, content-addressed;
                                 born = the height that (last) created the node
    H height(8, BE)           -> root ref         one per retained height (b"" = empty tree)
    T height(8) 00            -> nodehash...      the nodes replaced (left the latest tree) at height
    T height(8) 01            -> keyhash...       the keys that got a new version at height
                                                  (the stale index that `prune` consumes; stores
                                                  written before it was packed hold one entry
                                                  per hash: T height kind hash -> b"")
    R key                     -> value            records, not in the app hash
    M height                  -> height(8, BE)    last committed height
    M bulk                    -> 1                a bulk load is in progress (see bulk_load)
    M pruned                  -> height(8, BE)    heights below it were committed, then pruned
The tree (state/tree.py) is keyed by sha256(key); since nodes are content-addressed, every
retained root stays provable ("historical proofs for free"). `prune(retain)` forgets the
heights below `retain` in one batch, using the stale index (see docs/store.md, Pruning).
"""
from __future__ import annotations

from hashlib import sha256
from itertools import islice
from pathlib import Path
from time import perf_counter, thread_time
from typing import Callable, Iterable, Iterator, Mapping

import plyvel

from state.proof import encode_proof
from state.tree import (
    EMPTY_ROOT,
    K0,
    R0,
    Children,
    TreeUpdate,
    child_nodes,
    child_span,
    compute_root_hash,
    walk_path,
)

MAX_KEY_BYTES = 1024
_HEIGHT_KEY = b"Mheight"
_BULK_KEY = b"Mbulk"
_PRUNED_KEY = b"Mpruned"
_DELETED = b"\x00"
_PRESENT = b"\x01"
_STALE_NODE = b"\x00"
_STALE_VERSIONS = b"\x01"
_MISSING = object()
_BORN = 8  # bytes of the born height after a stored node's encoding


def _encoding(stored: bytes) -> bytes:
    """A stored node without its born height. An encoding is 17 + 32*k bytes, so the
    8-byte suffix is recognisable (nodes written before it existed have none)."""
    return stored[:-_BORN] if (len(stored) - 17) % 32 else stored


def _born(stored: bytes) -> int:
    return int.from_bytes(stored[-_BORN:], "big") if (len(stored) - 17) % 32 else -1


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

    def __init__(self, path: str | Path, *, node_cache_size: int = 600_000, value_cache_size: int = 100_000,
                 lru_cache_size: int = 32 << 20, write_buffer_size: int = 64 << 20,
                 block_size: int = 64 << 10):
        # bloom filters: a get of a tree node or key touches one table file, not every
        # overlapping one. No compression: tree nodes are random hashes (incompressible),
        # so snappy would only cost compaction CPU on a machine whose cores are scarce.
        # A 64 MB memtable (not 16) flushes a quarter as often: a third less compaction
        # CPU per block in the background thread, for up to ~100 MB more memory.
        # 64 KiB table blocks (not 4): compaction handles a sixteenth as many blocks (a
        # third less background CPU per market-bench block); point reads cost the same,
        # as table files are memory-mapped and a get searches one block's restart points.
        try:
            self._db = plyvel.DB(str(path), create_if_missing=True, bloom_filter_bits=10,
                                 compression=None, lru_cache_size=lru_cache_size,
                                 write_buffer_size=write_buffer_size, block_size=block_size)
        except plyvel.Error as e:  # e.g. another process (or Store) holds the lock
            raise StoreError("open_failed", f"cannot open {path}: {e}") from e
        if self._db.get(_BULK_KEY) is not None:
            self._db.close()
            raise StoreError("incomplete_bulk_load",
                             f"{path}: a bulk load was interrupted; delete the directory")
        # encodings of the latest tree's nodes seen so far (replaced ones are dropped)
        self._cache: dict[bytes, bytes] = {}
        # 600k nodes ~ 220 MB holds the whole latest tree up to ~1.6M keys; beyond, the
        # top of the tree (rebuilt and re-cached every block) stays hot, the rest is read
        self._cache_limit = node_cache_size
        # latest committed values (None: absent) of keys read or written lately, oldest
        # first: a block reads again mostly what recent blocks touched (accounts,
        # positions, set nodes), and a dict hit costs ~0.1 us against ~5-10 us for
        # LevelDB. Moved only after a commit's write succeeded, trimmed at each commit.
        self._values: dict[bytes, bytes | None] = {}
        self._values_limit = value_cache_size
        self.last_commit_timings: dict[str, float] = {}
        self._batch = None  # the reused WriteBatch (see commit)
        raw = self._db.get(_HEIGHT_KEY)
        self._empty = raw is None
        self._height = 0 if raw is None else int.from_bytes(raw, "big")
        self._root: bytes | None = None
        self._base = self._height
        pruned = self._db.get(_PRUNED_KEY)
        self._pruned_to = 0 if pruned is None else int.from_bytes(pruned, "big")
        if raw is not None:
            self._root = self._load_root(self._height)
            self._base = self._first_root_height()

    # --- reads -----------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self._height

    @property
    def app_hash(self) -> bytes:
        return compute_root_hash(self._root)

    @property
    def base(self) -> int:
        """The lowest retained height (its root is kept)."""
        return self._base

    @property
    def pruned_below(self) -> int:
        """Heights below this were committed, then pruned: reads there answer `pruned`."""
        return self._pruned_to

    def get(self, key: bytes) -> bytes | None:
        """Latest committed value of `key`, or None."""
        try:
            v = self._values.get(key, _MISSING)
            if v is _MISSING:
                v = self._values[key] = self._db.get(b"S" + key)
        except TypeError:
            raise StoreError("bad_key", f"key must be bytes, got {type(key).__name__}") from None
        return v

    def get_at(self, key: bytes, height: int) -> bytes | None:
        """Value of `key` as committed at `height` (any committed height)."""
        _check_key(key)
        self._require_committed(height)
        return self._value_at(sha256(key).digest(), height)

    def get_record(self, key: bytes) -> bytes | None:
        try:
            return self._db.get(b"R" + key)
        except TypeError:
            raise StoreError("bad_key", f"key must be bytes, got {type(key).__name__}") from None

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
            off, end = child_span(encoding, nib)
            levels.append((encoding[K0:R0], encoding[R0:off] + encoding[end:]))
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
        c0 = thread_time()
        items = []
        append = items.append
        for key, value in changes.items():
            if type(key) is not bytes or len(key) > MAX_KEY_BYTES:
                _check_key(key)
            kh = sha256(key).digest()
            if value is None:
                append((kh, None, key, None))
            elif type(value) is bytes:
                append((kh, kh + sha256(value).digest(), key, value))
            else:
                raise StoreError("bad_value", f"value for {key!r} must be bytes or None")
        items.sort()  # by keyhash: key hashes are distinct, so later fields never compare
        update = TreeUpdate(self._read_node, self._cache)
        new_root = update.apply(self._root, items)
        t1 = perf_counter()
        c1 = thread_time()

        # One WriteBatch, reused: refilling a cleared batch keeps its ~25 MB buffer, which
        # measured 6x cheaper than growing a new one (realloc + page faults). Cleared
        # first, so nothing from an abandoned commit can ride along.
        batch = self._batch
        if batch is None:
            batch = self._batch = self._db.write_batch(sync=True)
        batch.clear()
        hkey = _be8(height)
        put = batch.put
        delete = batch.delete
        for kh, _ref, key, value in items:
            if value is None:
                delete(b"S" + key)
                put(b"V" + kh + hkey, _DELETED)
            else:
                put(b"S" + key, value)
                put(b"V" + kh + hkey, _PRESENT + value)
        # The nodes in hash order: LevelDB inserts a batch into its memtable (a skip list)
        # one entry at a time, and an insert next to the one before walks cache-warm
        # nodes. Sorting and gathering the block's nodes costs less than inserting them in
        # random order does (V is in order already: `items` are sorted by keyhash).
        new_nodes = update.new_nodes
        for h in sorted(new_nodes):
            put(b"N" + h, new_nodes[h] + hkey)
        # the stale index of this height: two entries, each the list of its hashes
        if items:
            put(b"T" + hkey + _STALE_VERSIONS, b"".join([it[0] for it in items]))
        if update.replaced:
            put(b"T" + hkey + _STALE_NODE, b"".join(update.replaced))
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
        entries = (2 * len(items) + len(update.new_nodes) + bool(items) + bool(update.replaced)
                   + len(records or ()) + 2)            # LevelDB entries this batch writes
        t2 = perf_counter()
        c2 = thread_time()
        self._write(batch)
        t3 = perf_counter()
        c3 = thread_time()

        # only now, with the batch durable, does the in-memory view move on
        if self._empty:
            self._base = height
        self._height = height
        self._root = new_root
        self._empty = False
        self._remember(update)
        self._remember_values(changes)
        # seconds per phase of the last commit, for benchmarks (never part of the state)
        self.last_commit_timings = {"tree": t1 - t0, "batch": t2 - t1, "write": t3 - t2,
                                    "cache": perf_counter() - t3,
                                    "tree_cpu": c1 - c0, "batch_cpu": c2 - c1,
                                    "write_cpu": c3 - c2, "cache_cpu": thread_time() - c3,
                                    "nodes": len(update.new_nodes),
                                    "entries": entries}
        return compute_root_hash(new_root)

    def bulk_load(self, height: int, pairs: Iterable[tuple[bytes, bytes]],
                  records: Mapping[bytes, bytes] | None = None, *,
                  progress: Callable[[int], None] | None = None) -> bytes:
        """Fill an EMPTY store with `pairs` (distinct keys) as its first height: genesis
        of a large state, benchmarks. Faster and smaller than commits: values are written
        in unsynced batches as they stream in; the tree is built once, one subtree per
        first byte of the key hash, holding only 64-byte leaf refs in memory. Not atomic:
        a marker written first makes an interrupted load refuse to open (start over);
        the height and root are written last, synced. Returns the app hash."""
        if not self._empty:
            raise StoreError("not_empty", "bulk_load needs an empty store")
        if type(height) is not int or height < 0:
            raise StoreError("bad_height", f"cannot bulk load at height {height!r}")
        self._db.put(_BULK_KEY, b"1", sync=True)
        self._values.clear()                  # absent keys read before are about to exist
        hkey = _be8(height)
        buckets: list[list[bytes]] = [[] for _ in range(256)]
        count = 0
        batch = self._db.write_batch()
        for key, value in pairs:
            if type(key) is not bytes or len(key) > MAX_KEY_BYTES:
                _check_key(key)
            if type(value) is not bytes:
                raise StoreError("bad_value", f"value for {key!r} must be bytes")
            kh = sha256(key).digest()
            buckets[kh[0]].append(kh + sha256(value).digest())
            batch.put(b"S" + key, value)
            batch.put(b"V" + kh + hkey, _PRESENT + value)
            count += 1
            if count % 50_000 == 0:
                batch.write()
                batch = self._db.write_batch()
                if progress:
                    progress(count)
        batch.write()
        # one subtree per first byte (depth 2), then the 16 depth-1 nodes and the root
        update = TreeUpdate(self._load_node)
        top: Children = [None] * 16
        for hi in range(16):
            mid: Children = [None] * 16
            for lo in range(16):
                refs = buckets[hi * 16 + lo]
                buckets[hi * 16 + lo] = []
                refs.sort()
                if len(refs) != len(set(r[:32] for r in refs)):
                    raise StoreError("bad_key", "bulk_load keys must be distinct")
                mid[lo] = update.build(2, refs)
                if len(update.new_nodes) > 20_000:
                    self._write_nodes(update.new_nodes, hkey)
                    update.new_nodes = {}
            top[hi] = update.make_node(mid)
        root = update.make_node(top)
        self._write_nodes(update.new_nodes, hkey)
        batch = self._db.write_batch(sync=True)
        for key, value in (records or {}).items():
            _check_key(key)
            batch.put(b"R" + key, value)
        batch.put(b"H" + hkey, root or b"")
        batch.put(_HEIGHT_KEY, hkey)
        batch.put(_PRUNED_KEY, hkey)  # what lies below a loaded height is not here
        batch.delete(_BULK_KEY)
        batch.write()
        self._height = height
        self._base = self._pruned_to = height
        self._root = root
        self._empty = False
        if progress:
            progress(count)
        return compute_root_hash(root)

    def state_snapshot(self) -> tuple[int, bytes, Iterator[tuple[bytes, bytes]]]:
        """(height, app hash, every (key, value) of the latest state in key order) as of
        now: a LevelDB snapshot, so commits may go on while the items are read (from
        another thread too). Close the iterator if it is not read to the end."""
        snap = self._db.snapshot()

        def items() -> Iterator[tuple[bytes, bytes]]:
            try:
                for key, value in snap.iterator(prefix=b"S"):
                    yield key[1:], value
            finally:
                snap.close()
        return self._height, self.app_hash, items()

    # --- pruning ---------------------------------------------------------------------
    def prune(self, retain: int, records: Iterable[bytes] = ()) -> dict[str, int]:
        """Forget every height below `retain` (roots, superseded versions, tree nodes no
        kept root reaches) and delete `records`, in ONE synced WriteBatch: a crash leaves
        either the old base or the new one. Returns counts of what was deleted.

        Why it is safe: the stale index lists, per height h, the nodes that left the latest
        tree at h (so only roots below h reach them) and the keys that got a new version
        at h (so versions below h serve only heights below h). Every retained height is
        >= retain >= h. A node can come back (a value set back recreates the same subtree):
        each stored node carries the height that last created it, and a stale entry of
        height h deletes the node only if it was born before h."""
        if type(retain) is not int or retain > self._height:
            raise StoreError("bad_height", f"cannot prune to {retain!r}: latest is {self._height}")
        if self._empty or retain <= self._base:
            return {"heights": 0, "nodes": 0, "versions": 0, "records": 0}
        db = self._db
        batch = db.write_batch(sync=True)
        for h in range(self._base, retain):
            batch.delete(b"H" + _be8(h))
        nodes = versions = 0
        stop = b"T" + _be8(retain + 1)
        for entry, listed in db.iterator(start=b"T", stop=stop):
            batch.delete(entry)
            height = int.from_bytes(entry[1:9], "big")
            # one entry per height and kind listing its hashes; stores written before
            # that have one entry per hash, the hash in the key
            hashes = [entry[10:]] if len(entry) > 10 else [listed[i:i + 32] for i in range(0, len(listed), 32)]
            if entry[9:10] == _STALE_NODE:
                for h in hashes:
                    stored = db.get(b"N" + h)
                    if stored is not None and _born(stored) < height:
                        batch.delete(b"N" + h)
                        nodes += 1
                continue
            for h in hashes:
                prefix = b"V" + h
                for old in db.iterator(start=prefix, stop=prefix + entry[1:9], include_value=False):
                    batch.delete(old)
                    versions += 1
                if db.get(prefix + entry[1:9]) == _DELETED:  # absent from here on: nothing to keep
                    batch.delete(prefix + entry[1:9])
                    versions += 1
        count = 0
        for key in records:
            _check_key(key)
            batch.delete(b"R" + key)
            count += 1
        batch.put(_PRUNED_KEY, _be8(retain))
        batch.write()
        pruned = retain - self._base
        self._base = self._pruned_to = retain
        return {"heights": pruned, "nodes": nodes, "versions": versions, "records": count}

    def compact(self) -> None:
        """LevelDB compaction of the pruned tables, so deleted entries free disk now rather
        than whenever background compaction reaches them (seconds at 1M keys: call it
        every so many pruned heights, not every block)."""
        for start, stop in ((b"H", b"I"), (b"N", b"O"), (b"R", b"S"), (b"T", b"U"),
                            (b"V", b"W")):
            self._db.compact_range(start=start, stop=stop)

    def compact_all(self) -> None:
        """LevelDB compaction of everything (benchmarks: settle a freshly built state)."""
        self._db.compact_range()

    def _write_nodes(self, nodes: dict[bytes, bytes], born: bytes) -> None:
        with self._db.write_batch() as batch:
            for h, encoding in nodes.items():
                batch.put(b"N" + h, encoding + born)
        room = self._cache_limit - len(self._cache)
        if room > 0:  # warm the cache for the first blocks
            self._cache.update(nodes if room >= len(nodes) else list(nodes.items())[:room])

    def close(self) -> None:
        self._batch = None
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
        cache = self._cache  # (the update took the nodes it replaced out of it already)
        room = self._cache_limit - len(cache)
        if room >= len(update.new_nodes):
            cache.update(update.new_nodes)
        elif room > 0:
            for h, enc in list(update.new_nodes.items())[:room]:
                cache[h] = enc

    def _remember_values(self, changes: Mapping[bytes, bytes | None]) -> None:
        """Keep the committed values of `changes`; the oldest entries go beyond the limit."""
        values = self._values
        values.update(changes)         # (a key already there keeps its place in the order)
        excess = len(values) - self._values_limit
        if excess > 0:
            for key in list(islice(values, excess)):
                del values[key]

    def _read_node(self, h: bytes) -> bytes:
        stored = self._db.get(b"N" + h)
        if stored is None:
            raise StoreError("corrupt", f"missing tree node {h.hex()}")
        return _encoding(stored)

    def _load_node(self, h: bytes) -> bytes:
        encoding = self._cache.get(h)
        if encoding is None:
            encoding = self._read_node(h)
            if len(self._cache) < self._cache_limit:
                self._cache[h] = encoding
        return encoding

    def warm_cache(self) -> int:
        """Load the latest tree's nodes into the cache (after a restart the first blocks
        would otherwise read them one by one); returns how many nodes are cached."""
        stack = [self._root]
        while stack and len(self._cache) < self._cache_limit:
            ref = stack.pop()
            if ref is None or len(ref) != 32:
                continue
            stack.extend(child_nodes(self._load_node(ref)))
        return len(self._cache)

    def _peek_node(self, h: bytes) -> bytes:
        """Like _load_node but leaves the cache alone (historical nodes would stick)."""
        return self._cache.get(h) or self._read_node(h)

    def _load_root(self, height: int) -> bytes | None:
        raw = self._db.get(b"H" + _be8(height))
        if raw is None:
            raise StoreError("unknown_height", f"height {height} was not committed")
        return raw or None

    def _first_root_height(self) -> int:
        it = self._db.iterator(prefix=b"H", include_value=False)
        try:
            return int.from_bytes(next(it)[1:], "big")
        finally:
            it.close()

    def _require_committed(self, height: int) -> None:
        if type(height) is not int or height < 0:
            raise StoreError("bad_height", f"height must be an int >= 0, got {height!r}")
        if height < self._pruned_to:
            raise StoreError("pruned", f"height {height} is pruned: the earliest retained "
                                       f"height is {self._base}")
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


def _check_key(key) -> None:
    if type(key) is not bytes:
        raise StoreError("bad_key", f"key must be bytes, got {type(key).__name__}")
    if len(key) > MAX_KEY_BYTES:
        raise StoreError("bad_key", f"key of {len(key)} bytes exceeds {MAX_KEY_BYTES}")


__all__ = ["Store", "StoreError", "EMPTY_ROOT"]
