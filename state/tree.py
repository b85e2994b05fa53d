"""The authenticated state tree behind the app hash: a compact 16-ary sparse Merkle tree.

Keys live at the path given by the nibbles of sha256(key). A subtree holding one key is
that key's leaf, placed as high as it can go, so the tree is only as deep as the keys'
hashes need to tell them apart (~5 levels for a million keys). An internal node has 2+
keys below it and up to 16 children. The shape is a pure function of the key/value set,
so the root does not depend on insertion order or batching.

A child reference ("ref") is `bytes`:
  * a leaf:  keyhash(32) || valuehash(32)   (64 bytes; valuehash = sha256(value))
  * a node:  its hash (32 bytes); the node is stored content-addressed under it.
A node is encoded as `kinds || refs`: `kinds` is 16 bytes, one per nibble (0 empty,
1 node, 2 leaf), then the refs of the present children in nibble order. The encoding is
exactly what is hashed:

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
KIND_EMPTY, KIND_NODE, KIND_LEAF = 0, 1, 2
RADIX = 16
MAX_DEPTH = 64  # nibbles in a sha256 digest

Loader = Callable[[bytes], bytes]
Children = list  # 16 entries: None | 32-byte node hash | 64-byte leaf ref


def compute_key_hash(key: bytes) -> bytes:
    return sha256(key).digest()


def compute_leaf_ref(key: bytes, value: bytes) -> bytes:
    return sha256(key).digest() + sha256(value).digest()


def compute_root_hash(ref: bytes | None) -> bytes:
    """The app hash committed by a root ref."""
    if ref is None:
        return EMPTY_ROOT
    if len(ref) == 64:
        return sha256(LEAF_PREFIX + ref).digest()
    return ref


def compute_node_hash(encoding: bytes) -> bytes:
    return sha256(NODE_PREFIX + encoding).digest()


def nibble(key_hash: bytes, depth: int) -> int:
    b = key_hash[depth >> 1]
    return (b >> 4) if not depth & 1 else (b & 15)


def encode_node(children: Children) -> bytes:
    return bytes([0 if c is None else len(c) >> 5 for c in children]) + b"".join(
        [c for c in children if c is not None])


def decode_node(encoding: bytes) -> Children:
    """Children of a node; raises ValueError on a malformed encoding."""
    if len(encoding) < RADIX:
        raise ValueError("tree node too short")
    children: Children = [None] * RADIX
    pos = RADIX
    for i, k in enumerate(encoding[:RADIX]):
        if k:
            if k > KIND_LEAF:
                raise ValueError("bad child kind in tree node")
            end = pos + 32 * k
            children[i] = encoding[pos:end]
            pos = end
    if pos != len(encoding):
        raise ValueError("tree node length does not match its kinds")
    return children


def child_at(encoding: bytes, nib: int) -> bytes | None:
    """One child of an encoded node, without decoding the others."""
    k = encoding[nib]
    if not k:
        return None
    off = RADIX + 32 * sum(encoding[:nib])
    return encoding[off:off + 32 * k]


class TreeUpdate:
    """One batch of changes applied in a single pass.

    `apply(root, items)`: items sorted by keyhash, each `(keyhash, leaf_ref | None)` (None
    deletes; deleting an absent key is a no-op). Each touched path is rebuilt once.
    After it: `new_nodes` {hash: encoding} to persist, `replaced` hashes no longer in the
    latest tree.
    """

    def __init__(self, load: Loader):
        self.load = load
        self.new_nodes: dict[bytes, bytes] = {}
        self.replaced: list[bytes] = []

    def apply(self, root: bytes | None, items: list[tuple[bytes, bytes | None]]) -> bytes | None:
        if not items:
            return root
        return self._update(root, 0, items)

    # -- creation ---------------------------------------------------------------------
    def _store(self, encoding: bytes) -> bytes:
        h = sha256(NODE_PREFIX + encoding).digest()
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
        return self._store(bytes([0 if c is None else len(c) >> 5 for c in children])
                           + b"".join(present))

    def _build(self, depth: int, leaves: list[bytes]) -> bytes | None:
        """The canonical subtree of sorted, distinct leaf refs."""
        n = len(leaves)
        if n <= 1:
            return leaves[0] if n else None
        if depth >= MAX_DEPTH:
            raise ValueError("two leaves with one key hash")
        children: Children = [None] * RADIX
        for nib, lo, hi in _groups(leaves, depth, lambda r: r):
            children[nib] = self._build(depth + 1, leaves[lo:hi])
        return self._make_node(children)

    # -- update -------------------------------------------------------------------------
    def _update(self, ref: bytes | None, depth: int, items) -> bytes | None:
        if len(items) == 1:
            kh, new = items[0]
            return self._update_one(ref, depth, kh, new)
        if ref is None:
            return self._build(depth, [r for _, r in items if r is not None])
        if len(ref) == 64:  # a leaf meets several changes: merge it in and rebuild
            old_kh = ref[:32]
            merged = [r for _, r in items if r is not None]
            if not any(kh == old_kh for kh, _ in items):
                merged.append(ref)
                merged.sort()
            return self._build(depth, merged)
        encoding = self.load(ref)
        children = decode_node(encoding)
        changed = False
        for nib, lo, hi in _groups(items, depth, _first):
            old = children[nib]
            new = self._update(old, depth + 1, items[lo:hi])
            if new != old:
                children[nib] = new
                changed = True
        if not changed:
            return ref
        self.replaced.append(ref)
        return self._make_node(children)

    def _update_one(self, ref: bytes | None, depth: int, kh: bytes, new: bytes | None):
        """The common case below the top levels: one change in this subtree."""
        if ref is None:
            return new
        if len(ref) == 64:
            if ref[:32] == kh:
                return new
            if new is None:
                return ref
            return self._build(depth, [ref, new] if ref < new else [new, ref])
        encoding = self.load(ref)
        nib = nibble(kh, depth)
        k = encoding[nib]
        off = RADIX + 32 * sum(encoding[:nib])
        end = off + 32 * k
        old_child = encoding[off:end] if k else None
        new_child = self._update_one(old_child, depth + 1, kh, new)
        if new_child == old_child:
            return ref
        self.replaced.append(ref)
        if new_child is None:
            if RADIX - encoding[:RADIX].count(0) == 2:  # one child left: maybe a lone leaf
                rest = encoding[RADIX:off] + encoding[end:]
                if len(rest) == 64:
                    return rest
            return self._store(encoding[:nib] + b"\x00" + encoding[nib + 1:off]
                               + encoding[end:])
        nk = len(new_child) >> 5
        if nk == KIND_LEAF and k and RADIX - encoding[:RADIX].count(0) == 1:
            return new_child  # this node's only subtree shrank to a leaf: it moves up
        return self._store(encoding[:nib] + bytes((nk,)) + encoding[nib + 1:off]
                           + new_child + encoding[end:])


def _first(item):
    return item[0]


def _groups(items, depth: int, keyhash_of):
    """(nibble, lo, hi) runs of sorted items sharing the nibble at `depth`."""
    n = len(items)
    b = depth >> 1
    if n <= 8:  # few items: a linear scan beats bisecting
        start = 0
        cur = nibble(keyhash_of(items[0]), depth)
        for i in range(1, n):
            nb = nibble(keyhash_of(items[i]), depth)
            if nb != cur:
                yield cur, start, i
                start = i
                cur = nb
        yield cur, start, n
        return
    # all items share the nibbles above `depth`, so byte b orders them by this nibble
    if depth & 1:
        base = keyhash_of(items[0])[b] & 0xF0
        step = 1
    else:
        base = 0
        step = 16
    key = (lambda it: keyhash_of(it)[b])
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
