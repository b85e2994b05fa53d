"""An ordered set of fixed-length byte keys in the state: the least key in a few reads.

The store has no range scans (its tree is keyed by hashes), yet the market needs the best
price of a book and the ledger the top holder of an asset, both among any number of
entries. This is a burst trie with path compression over the keys' bytes, each node one
state value addressed by a key prefix A:

    ns + A  ->  [LEAF, [key, ...]]            at most LEAF_CAP keys, sorted, all starting with A
            |   [BRANCH, bitmap32, ext]       every key below starts with A + ext; bit b set:
                                              the child at A + ext + bytes([b]) is not empty

A missing node is an empty leaf. A leaf that grows past LEAF_CAP bursts into a branch whose
`ext` is the items' common prefix, with one child per next byte, so keys that share long
prefixes (big-endian prices, share counts) cost no extra levels: the depth is about
log_256(n / LEAF_CAP) + 1, 2 or 3 for 100,000 keys. An insert that leaves a branch's `ext`
splits it: the branch moves one level down (its children's addresses are full prefixes,
so they stay). Reading the least key walks one path; inserting or removing a key reads
that path and writes its leaf (plus a parent bitmap when a child appears or empties).

The shape depends on the order of past inserts and removals only, so it is deterministic.
All keys of one set (one `ns`) have the same length; namespaces of one table have the same
length too, so node keys of different sets never clash.
"""
from __future__ import annotations

from bisect import bisect_left
from typing import Iterator

LEAF, BRANCH = 0, 1
LEAF_CAP = 16


def _bits(bitmap: bytes) -> int:
    return int.from_bytes(bitmap, "little")


def _bitmap(bits: int) -> bytes:
    return bits.to_bytes(32, "little")


def _lowest(bits: int) -> int:
    return (bits & -bits).bit_length() - 1


def _common_prefix(items: list[bytes], depth: int) -> bytes:
    """The bytes from `depth` on that all (sorted) items share, leaving at least one to
    branch on."""
    first, last = items[0], items[-1]
    n = depth
    while n < len(first) - 1 and first[n] == last[n]:
        n += 1
    return first[depth:n]


def _write_burst(ctx, ns: bytes, path: bytes, items: list[bytes]) -> None:
    """Write `items` (sorted, > LEAF_CAP, all under `path`) as a branch at `path`."""
    ext = _common_prefix(items, len(path))
    depth = len(path) + len(ext)
    groups: dict[int, list[bytes]] = {}
    for k in items:
        groups.setdefault(k[depth], []).append(k)
    bits = 0
    for b, group in groups.items():
        bits |= 1 << b
        child = path + ext + bytes([b])
        if len(group) > LEAF_CAP and depth + 1 < len(group[0]):
            _write_burst(ctx, ns, child, group)
        else:
            ctx.put_record(ns + child, [LEAF, group])
    ctx.put_record(ns + path, [BRANCH, _bitmap(bits), ext])


def insert(ctx, ns: bytes, key: bytes) -> bool:
    """Add `key`; False if it was already there."""
    path = b""
    node = ctx.get_record(ns)
    while node is not None and node[0] == BRANCH:
        ext = node[2]
        depth = len(path) + len(ext)
        if key[len(path):depth] != ext:          # `key` leaves the branch's common prefix: split
            i = next(j for j in range(len(ext)) if key[len(path) + j] != ext[j])
            old = path + ext[:i] + ext[i:i + 1]
            new = path + ext[:i] + key[len(path) + i:len(path) + i + 1]
            ctx.put_record(ns + old, [BRANCH, node[1], ext[i + 1:]])
            ctx.put_record(ns + new, [LEAF, [key]])
            ctx.put_record(ns + path, [BRANCH, _bitmap((1 << ext[i]) | (1 << key[len(path) + i])), ext[:i]])
            return True
        bits = _bits(node[1])
        bit = 1 << key[depth]
        if not bits & bit:             # the child is empty: it is about to hold `key`
            ctx.put_record(ns + path, [BRANCH, _bitmap(bits | bit), ext])
        path = key[:depth + 1]
        node = ctx.get_record(ns + path)
    items = [] if node is None else node[1]
    i = bisect_left(items, key)
    if i < len(items) and items[i] == key:
        return False
    items.insert(i, key)
    if len(items) > LEAF_CAP and len(path) < len(key):
        _write_burst(ctx, ns, path, items)
    else:
        ctx.put_record(ns + path, [LEAF, items])
    return True


def remove(ctx, ns: bytes, key: bytes) -> bool:
    """Drop `key`; False if it was not there. Emptied nodes are deleted, bottom up."""
    branches: list[tuple[bytes, int, bytes, int]] = []     # (path, bits, ext, branch byte)
    path = b""
    node = ctx.get_record(ns)
    while node is not None and node[0] == BRANCH:
        ext = node[2]
        depth = len(path) + len(ext)
        bits = _bits(node[1])
        if key[len(path):depth] != ext or not bits & (1 << key[depth]):
            return False
        branches.append((path, bits, ext, key[depth]))
        path = key[:depth + 1]
        node = ctx.get_record(ns + path)
    if node is None:
        return False
    items = node[1]
    i = bisect_left(items, key)
    if i == len(items) or items[i] != key:
        return False
    del items[i]
    if items:
        ctx.put_record(ns + path, [LEAF, items])
        return True
    ctx.delete(ns + path)
    while branches:
        p, bits, ext, b = branches.pop()
        bits &= ~(1 << b)
        if bits:
            ctx.put_record(ns + p, [BRANCH, _bitmap(bits), ext])
            return True
        ctx.delete(ns + p)
    return True


class NodeBuffer:
    """A view over `ctx` for a run of set operations: each node is read and decoded once
    and written once, when `flush` is called (operations on nearby keys share a path and
    often a leaf). Deterministic: the nodes written are the ones the operations, applied
    one by one, would have left."""
    __slots__ = ("ctx", "seen", "dirty")

    def __init__(self, ctx) -> None:
        self.ctx, self.seen, self.dirty = ctx, {}, {}

    def get_record(self, key: bytes):
        node = self.seen.get(key, _UNSEEN)
        if node is _UNSEEN:
            node = self.seen[key] = self.ctx.get_record(key)
        return node

    def put_record(self, key: bytes, node) -> None:
        self.seen[key] = node
        self.dirty[key] = True

    def delete(self, key: bytes) -> None:
        self.seen[key] = None
        self.dirty[key] = True

    def flush(self) -> None:
        ctx, seen = self.ctx, self.seen
        for key in self.dirty:
            node = seen[key]
            if node is None:
                ctx.delete(key)
            else:
                ctx.put_record(key, node)
        self.dirty = {}


_UNSEEN = object()


# --- membership changes deferred to the end of the block ------------------------------------
# For a set no transaction reads (only queries, on committed state), inserts and removals
# can be noted in the context and applied once per block, keys in order, through one
# NodeBuffer: an insert and a removal of one key in the same block cancel out, and the
# changes of nearby keys (one maker's orders) write their shared leaf once.
def note_insert(ctx, ns: bytes, key: bytes) -> None:
    _note(ctx, ns, key, True)


def note_remove(ctx, ns: bytes, key: bytes) -> None:
    _note(ctx, ns, key, False)


def _note(ctx, ns: bytes, key: bytes, present: bool) -> None:
    pending = ctx.get_deferred(ns, key)
    ctx.put_deferred(ns, key, None if pending is not None and pending != present else present)


def process_flush_noted(ctx, prefix: bytes) -> None:
    """Apply the noted changes of every set whose namespace starts with `prefix`."""
    for ns in ctx.deferred_spaces(prefix):
        pending = ctx.take_deferred(ns)
        if not pending:
            continue
        nodes = NodeBuffer(ctx)
        process_apply_sorted(nodes, ns, [(key, pending[key]) for key in sorted(pending)])
        nodes.flush()


def process_apply_sorted(nodes: NodeBuffer, ns: bytes, changes: list[tuple[bytes, bool]]) -> None:
    """Insert (True) or remove (False) each key of `changes`, in the given (key) order:
    the same nodes as calling insert/remove for each, but a run of keys that share a
    leaf walks to it once."""
    leaf = None                        # (path, node) of the leaf the last key went to
    for key, present in changes:
        if leaf is None or key[:len(leaf[0])] != leaf[0]:
            leaf = _leaf_of(nodes, ns, key)
        items = None if leaf is None else leaf[1][1]
        if items is not None and (len(items) < LEAF_CAP if present else len(items) > 1):
            # the leaf neither bursts nor empties: exactly what insert/remove would do
            i = bisect_left(items, key)
            found = i < len(items) and items[i] == key
            if found != present:
                if present:
                    items.insert(i, key)
                else:
                    del items[i]
                nodes.put_record(ns + leaf[0], leaf[1])
            continue
        (insert if present else remove)(nodes, ns, key)
        leaf = None


def _leaf_of(view, ns: bytes, key: bytes) -> tuple[bytes, list] | None:
    """(path, node) of the leaf `key` belongs to, or None if its path ends before one
    (it leaves a branch's common prefix, or the child it needs is empty)."""
    path = b""
    node = view.get_record(ns)
    while node is not None and node[0] == BRANCH:
        ext = node[2]
        depth = len(path) + len(ext)
        if key[len(path):depth] != ext or not _bits(node[1]) & (1 << key[depth]):
            return None
        path = key[:depth + 1]
        node = view.get_record(ns + path)
    return None if node is None else (path, node)


def first(view, ns: bytes) -> bytes | None:
    """The least key of the set, or None if it is empty."""
    path = b""
    node = view.get_record(ns)
    while node is not None and node[0] == BRANCH:
        path += node[2] + bytes([_lowest(_bits(node[1]))])
        node = view.get_record(ns + path)
    if not node or not node[1]:
        return None
    return node[1][0]


def iter_keys(view, ns: bytes, limit: int) -> Iterator[bytes]:
    """The least `limit` keys in order (for queries; reads O(limit / LEAF_CAP) nodes)."""
    if limit <= 0:
        return
    stack = [b""]
    count = 0
    while stack:
        path = stack.pop()
        node = view.get_record(ns + path)
        if node is None:
            continue
        if node[0] == LEAF:
            for k in node[1]:
                yield k
                count += 1
                if count >= limit:
                    return
            continue
        bits = _bits(node[1])
        children = []
        while bits:
            b = _lowest(bits)
            children.append(path + node[2] + bytes([b]))
            bits &= bits - 1
        stack.extend(reversed(children))
