"""An ordered set of fixed-length byte keys in the state: the least key in a few reads.

The store has no range scans (its tree is keyed by hashes), yet the market needs the best
price of a book and the ledger the top holder of an asset, both among any number of
entries. This is a burst trie over the keys' bytes, each node one state value:

    ns + path  ->  [LEAF, [key, ...]]      at most LEAF_CAP keys, sorted, all starting with path
               |   [BRANCH, bitmap32]      bit b set: the child at path + bytes([b]) is not empty

A missing node is an empty leaf. A leaf that grows past LEAF_CAP bursts into a branch
with one leaf per next byte, so the depth is about log_256(n / LEAF_CAP): 2 for 100,000
random keys, never more than the key length. Reading the least key walks one path;
inserting or removing a key reads that path and writes its leaf (plus a parent bitmap
when a child appears or empties). Big-endian integers in the keys make "least key"
mean "least number", so a price level or a share count sorts as numbers do.

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


def _write_burst(ctx, ns: bytes, path: bytes, items: list[bytes]) -> None:
    """Write `items` (sorted, > LEAF_CAP, all under `path`) as a branch at `path`."""
    depth = len(path)
    groups: dict[int, list[bytes]] = {}
    for k in items:
        groups.setdefault(k[depth], []).append(k)
    bits = 0
    for b, group in groups.items():
        bits |= 1 << b
        child = path + bytes([b])
        if len(group) > LEAF_CAP and depth + 1 < len(group[0]):
            _write_burst(ctx, ns, child, group)
        else:
            ctx.put_record(ns + child, [LEAF, group])
    ctx.put_record(ns + path, [BRANCH, _bitmap(bits)])


def insert(ctx, ns: bytes, key: bytes) -> bool:
    """Add `key`; False if it was already there."""
    depth = 0
    node = ctx.get_record(ns)
    while node is not None and node[0] == BRANCH:
        bits = _bits(node[1])
        bit = 1 << key[depth]
        if not bits & bit:             # the child is empty: it is about to hold `key`
            ctx.put_record(ns + key[:depth], [BRANCH, _bitmap(bits | bit)])
        depth += 1
        node = ctx.get_record(ns + key[:depth])
    items = [] if node is None else node[1]
    i = bisect_left(items, key)
    if i < len(items) and items[i] == key:
        return False
    items.insert(i, key)
    if len(items) > LEAF_CAP and depth < len(key):
        _write_burst(ctx, ns, key[:depth], items)
    else:
        ctx.put_record(ns + key[:depth], [LEAF, items])
    return True


def remove(ctx, ns: bytes, key: bytes) -> bool:
    """Drop `key`; False if it was not there. Emptied nodes are deleted, bottom up."""
    branches: list[tuple[int, int]] = []       # (depth, bits) of the branches walked
    depth = 0
    node = ctx.get_record(ns)
    while node is not None and node[0] == BRANCH:
        bits = _bits(node[1])
        if not bits & (1 << key[depth]):
            return False
        branches.append((depth, bits))
        depth += 1
        node = ctx.get_record(ns + key[:depth])
    if node is None:
        return False
    items = node[1]
    i = bisect_left(items, key)
    if i == len(items) or items[i] != key:
        return False
    del items[i]
    if items:
        ctx.put_record(ns + key[:depth], [LEAF, items])
        return True
    ctx.delete(ns + key[:depth])
    while branches:
        d, bits = branches.pop()
        bits &= ~(1 << key[d])
        if bits:
            ctx.put_record(ns + key[:d], [BRANCH, _bitmap(bits)])
            return True
        ctx.delete(ns + key[:d])
    return True


def first(view, ns: bytes) -> bytes | None:
    """The least key of the set, or None if it is empty."""
    path = b""
    node = view.get_record(ns)
    while node is not None and node[0] == BRANCH:
        path += bytes([_lowest(_bits(node[1]))])
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
            children.append(path + bytes([b]))
            bits &= bits - 1
        stack.extend(reversed(children))
