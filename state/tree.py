"""The authenticated state tree behind the app hash: a compact 16-ary sparse Merkle tree.

Keys live at the path given by the nibbles of sha256(key). A subtree holding one key is
that key's leaf, placed as high as it can go, so the tree is only as deep as the keys'
hashes need to tell them apart (5-6 levels for a million keys). An internal node has 2+
keys below it and up to 16 children. The shape is a pure function of the key/value set,
so the root does not depend on insertion order or batching.

A child reference ("ref") is `bytes`:
  * a leaf:  keyhash(32) || valuehash(32)   (64 bytes; valuehash = sha256(value))
  * a node:  its hash (32 bytes); the node is stored content-addressed under it.
A node is encoded as `0x01 || kinds || refs`: `kinds` is 16 bytes, one per nibble
(0 empty, 1 node, 2 leaf), then the refs of the present children in nibble order. The
encoding is exactly what is hashed (so a node is spliced and hashed with no extra copy):

    node hash  = sha256(0x01 || kinds || refs)
    root       = node hash | sha256(0x00 || keyhash || valuehash) for a lone leaf
                 | 32 zero bytes for the empty tree

Leaves are committed inside their parent's preimage, typed by `kinds`, so a block does
not pay a separate leaf hash per key; a parent holds each leaf's keyhash, so an update
tells "same key" from "split" without a read. In Python the per-node interpreter work,
not the bytes hashed, is the cost, hence one flat sha256 per node (not a binary tree
inside the node as in Jellyfish) at the price of larger proofs (up to 15 siblings/level).

This module is pure: nodes come from a `load(hash) -> encoding` callable; an update
returns the nodes it created (to persist) and the ones it replaced (to drop from caches).
"""
from __future__ import annotations

from bisect import bisect_left
from hashlib import sha256
from typing import Callable

EMPTY_ROOT = bytes(32)
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
KIND_LEAF = 2  # kinds: 0 empty, 1 node, 2 leaf
RADIX = 16
MAX_DEPTH = 64  # nibbles in a sha256 digest

Loader = Callable[[bytes], bytes]
Children = list  # 16 entries: None | 32-byte node hash | 64-byte leaf ref


def compute_root_hash(ref: bytes | None) -> bytes:
    """The app hash committed by a root ref."""
    if ref is None:
        return EMPTY_ROOT
    if len(ref) == 64:
        return sha256(LEAF_PREFIX + ref).digest()
    return ref


def nibble(key_hash: bytes, depth: int) -> int:
    b = key_hash[depth >> 1]
    return (b >> 4) if not depth & 1 else (b & 15)


# offsets inside an encoding: the 0x01 prefix, then kinds, then refs
K0 = 1
R0 = K0 + RADIX


def child_span(encoding: bytes, nib: int) -> tuple[int, int]:
    """[start, end) of child `nib`'s ref inside an encoding (empty span if absent)."""
    off = R0 + 32 * sum(encoding[K0:K0 + nib])
    return off, off + 32 * encoding[K0 + nib]


def child_nodes(encoding: bytes) -> list[bytes]:
    """The hashes of an encoded node's children that are nodes (not leaves)."""
    out = []
    off = R0
    for kind in encoding[K0:R0]:
        if kind == 1:
            out.append(encoding[off:off + 32])
        off += 32 * kind
    return out


def child_at(encoding: bytes, nib: int) -> bytes | None:
    """One child of an encoded node, without decoding the others."""
    off, end = child_span(encoding, nib)
    return encoding[off:end] if end > off else None


class TreeUpdate:
    """One batch of changes applied in a single pass.

    `apply(root, items)`: items sorted by keyhash, each `(keyhash, leaf_ref | None, ...)`
    (None deletes; deleting an absent key is a no-op; further fields are ignored). Each
    touched path is rebuilt once. After it: `new_nodes` {hash: encoding} to persist and
    `replaced`, the hashes no longer in the latest tree.

    `cache` (optional) maps hashes of the latest tree's nodes to their encodings; a node
    this update replaces is TAKEN out of it as it is read (put back if it turns out
    unchanged), so the caller only has to add `new_nodes` afterwards. Every entry stays a
    true (hash, encoding) pair whatever happens, so an update abandoned halfway leaves at
    worst a few nodes to be read from disk again.
    """

    def __init__(self, load: Loader, cache: dict[bytes, bytes] | None = None):
        self.load = load
        self.cache = cache if cache is not None else {}
        self.new_nodes: dict[bytes, bytes] = {}
        self.replaced: list[bytes] = []

    def apply(self, root: bytes | None, items: list[tuple[bytes, bytes | None]]) -> bytes | None:
        if not items:
            return root
        return self._update(root, 0, items)

    # -- creation ---------------------------------------------------------------------
    def build(self, depth: int, leaves: list[bytes]) -> bytes | None:
        """The canonical subtree at `depth` of sorted, distinct leaf refs (bulk loads)."""
        return self._build(depth, leaves)

    def make_node(self, children: Children) -> bytes | None:
        """The canonical ref for a node with these children (bulk loads)."""
        return self._make_node(children)

    def _store(self, encoding: bytes) -> bytes:
        h = sha256(encoding).digest()
        self.new_nodes[h] = encoding
        return h

    def _make_node(self, children: Children) -> bytes | None:
        """Canonical ref for these children: None, a lone leaf moved up, or a new node."""
        present = [c for c in children if c is not None]
        if len(present) < 2:
            if not present:
                return None
            if len(present[0]) == 64:
                return present[0]
        return self._store(NODE_PREFIX + bytes([0 if c is None else len(c) >> 5 for c in children])
                           + b"".join(present))

    def _build(self, depth: int, leaves: list[bytes]) -> bytes | None:
        """The canonical subtree of sorted, distinct leaf refs."""
        n = len(leaves)
        if n <= 1:
            return leaves[0] if n else None
        if depth >= MAX_DEPTH:
            raise ValueError("two leaves with one key hash")
        children: Children = [None] * RADIX
        for nib, lo, hi in _groups(leaves, depth, None):
            children[nib] = self._build(depth + 1, leaves[lo:hi])
        return self._make_node(children)

    # -- update -------------------------------------------------------------------------
    def _update(self, ref: bytes | None, depth: int, items) -> bytes | None:
        if len(items) == 1:
            return self._update_one(ref, depth, items[0][0], items[0][1])
        if ref is None:
            return self._build(depth, [it[1] for it in items if it[1] is not None])
        if len(ref) == 64:  # a leaf meets several changes: merge it in and rebuild
            old_kh = ref[:32]
            merged = [it[1] for it in items if it[1] is not None]
            if not any(it[0] == old_kh for it in items):
                merged.append(ref)
                merged.sort()
            return self._build(depth, merged)
        # several changes below this node: recurse per nibble group, then splice every
        # changed child into the encoding in one join (no decoding into a list)
        taken = self.cache.pop(ref, None)
        encoding = taken or self.load(ref)
        kinds = bytearray(encoding[K0:R0])
        parts = [NODE_PREFIX, b""]
        pos = R0
        for nib, lo, hi in _groups(items, depth, _first):
            off = R0 + 32 * sum(encoding[K0:K0 + nib])
            end = off + 32 * encoding[K0 + nib]
            old = encoding[off:end] if end > off else None
            if hi - lo == 1:
                item = items[lo]
                new = self._update_one(old, depth + 1, item[0], item[1])
            else:
                new = self._update(old, depth + 1, items[lo:hi])
            if new == old:
                continue
            parts.append(encoding[pos:off])
            if new is None:
                kinds[nib] = 0
            else:
                kinds[nib] = len(new) >> 5
                parts.append(new)
            pos = end
        if pos == R0 and len(parts) == 2:  # nothing changed below
            if taken is not None:
                self.cache[ref] = taken
            return ref
        self.replaced.append(ref)
        parts.append(encoding[pos:])
        present = RADIX - kinds.count(0)
        if present < 2:
            if not present:
                return None
            rest = b"".join(parts[2:])
            if len(rest) == 64:
                return rest  # a lone leaf moves up to replace this node
        parts[1] = bytes(kinds)
        return self._store(b"".join(parts))

    def _update_one(self, ref: bytes | None, depth: int, kh: bytes, new: bytes | None):
        """The common case below the top levels: one change in this subtree. Walks down
        without decoding nodes (offsets come from `kinds`), then splices the path back up."""
        load = self.load
        take = self.cache.pop
        path = []
        while ref is not None and len(ref) == 32:
            encoding = take(ref, None) or load(ref)
            b = kh[depth >> 1]
            nib = (b & 15) if depth & 1 else (b >> 4)
            k = encoding[K0 + nib]
            off = R0 + 32 * sum(encoding[K0:K0 + nib])
            end = off + 32 * k
            path.append((ref, encoding, nib, k, off, end))
            ref = encoding[off:end] if k else None
            depth += 1
        if ref is None or ref[:32] == kh:
            child = new
        elif new is None:
            child = ref  # deleting an absent key
        else:
            child = self._build(depth, [ref, new] if ref < new else [new, ref])
        if child == ref:  # nothing changes (same value, or deleting an absent key)
            for node_ref, encoding, *_ in path:
                self.cache[node_ref] = encoding
            return path[0][0] if path else ref
        replaced = self.replaced
        new_nodes = self.new_nodes
        join = b"".join
        for ref, encoding, nib, k, off, end in reversed(path):
            replaced.append(ref)
            at = K0 + nib
            if child is None:
                if RADIX - encoding[K0:R0].count(0) == 2:  # one child left: a lone leaf?
                    rest = encoding[R0:off] + encoding[end:]
                    if len(rest) == 64:
                        child = rest
                        continue
                encoding = join((encoding[:at], b"\x00", encoding[at + 1:off], encoding[end:]))
                child = sha256(encoding).digest()
                new_nodes[child] = encoding
                continue
            nk = len(child) >> 5
            if nk == KIND_LEAF and k and RADIX - encoding[K0:R0].count(0) == 1:
                continue  # this node's only subtree shrank to a leaf: the leaf moves up
            encoding = join((encoding[:at], _KIND_BYTE[nk], encoding[at + 1:off], child,
                             encoding[end:]))
            child = sha256(encoding).digest()
            new_nodes[child] = encoding
        return child


_KIND_BYTE = (b"\x00", b"\x01", b"\x02")


def _first(item):
    return item[0]


def _groups(items, depth: int, keyhash_of):
    """(nibble, lo, hi) runs of sorted items sharing the nibble at `depth`; an item is a
    leaf ref (keyhash_of=None) or a tuple whose first field is the keyhash."""
    n = len(items)
    b = depth >> 1
    shift = 0 if depth & 1 else 4
    if n <= 8:  # few items: a linear scan beats bisecting
        if keyhash_of is None:
            nibs = [(r[b] >> shift) & 15 for r in items]
        else:
            nibs = [(it[0][b] >> shift) & 15 for it in items]
        start = 0
        cur = nibs[0]
        for i in range(1, n):
            if nibs[i] != cur:
                yield cur, start, i
                start = i
                cur = nibs[i]
        yield cur, start, n
        return
    # all items share the nibbles above `depth`, so byte b orders them by this nibble
    if depth & 1:
        base = (items[0][b] if keyhash_of is None else items[0][0][b]) & 0xF0
        step = 1
    else:
        base = 0
        step = 16
    key = (lambda r: r[b]) if keyhash_of is None else (lambda it: it[0][b])
    lo = 0
    for nib in range(RADIX):
        if lo >= n:
            return
        hi = bisect_left(items, base + (nib + 1) * step, lo, n, key=key) if nib < 15 else n
        if hi > lo:
            yield nib, lo, hi
        lo = hi


def walk_path(load: Loader, root: bytes | None, key_hash: bytes):
    """Descend towards key_hash: ([(encoding, nibble)] per node on the path, terminal ref)."""
    levels = []
    ref = root
    depth = 0
    while ref is not None and len(ref) == 32:
        encoding = load(ref)
        nib = nibble(key_hash, depth)
        levels.append((encoding, nib))
        ref = child_at(encoding, nib)
        depth += 1
    return levels, ref
