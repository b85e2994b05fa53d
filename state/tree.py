"""The authenticated state tree behind the app hash: a compact 16-ary sparse Merkle tree.

Keys live at the path given by the nibbles of sha256(key). A subtree that holds a single
key is that key's leaf, placed as high as it can go (so the tree is only as deep as the
keys' hashes need to tell them apart: ~5 levels for a million keys). An internal node
holds 2+ keys below it and up to 16 children; its hash covers a 16-bit bitmap of which
children exist and their hashes, flat (one sha256 per node, not a binary tree inside the
node: in Python the per-node overhead, not the bytes hashed, is what costs). The shape
is a pure function of the key/value set, so the root does not depend on insertion order.

    leaf hash  = sha256(0x00 || sha256(key) || sha256(value))
    node hash  = sha256(0x01 || bitmap (2 bytes, big endian) || child hashes in nibble order)
    empty root = 32 zero bytes

A child reference ("ref") inside a node is a `bytes`:
  * 64 bytes: a leaf, `keyhash || leafhash` (the parent keeps the keyhash so an update can
    tell "same key" from "split" without a read);
  * 32 bytes: an internal node's hash; the node is stored content-addressed by that hash.

This module is pure: nodes come from a `load(hash) -> children` callable and the nodes an
update creates are returned, so the store decides what to persist and when.
"""
from __future__ import annotations

from hashlib import sha256
from typing import Callable, Sequence

EMPTY_ROOT = bytes(32)
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
RADIX = 16
MAX_DEPTH = 64  # nibbles in a sha256 digest

Children = list  # 16 entries: None | 32-byte node hash | 64-byte leaf ref
Loader = Callable[[bytes], Children]


def compute_key_hash(key: bytes) -> bytes:
    return sha256(key).digest()


def compute_leaf_hash(key_hash: bytes, value_hash: bytes) -> bytes:
    return sha256(LEAF_PREFIX + key_hash + value_hash).digest()


def compute_node_hash(bitmap: int, child_hashes: Sequence[bytes]) -> bytes:
    return sha256(NODE_PREFIX + bitmap.to_bytes(2, "big") + b"".join(child_hashes)).digest()


def ref_hash(ref: bytes | None) -> bytes:
    """The hash a parent commits to for this reference (the root hash, at the top)."""
    if ref is None:
        return EMPTY_ROOT
    return ref[-32:]


def nibble(key_hash: bytes, depth: int) -> int:
    b = key_hash[depth >> 1]
    return (b >> 4) if not depth & 1 else (b & 15)


# --- node encoding (what is stored under the node's hash) ---------------------------------
# bitmap (2 bytes) || leafmask (2 bytes) || present children in nibble order, each 32 bytes
# (node hash) or 64 bytes (keyhash || leafhash) as the leafmask says.

def encode_node(children: Children) -> bytes:
    bitmap = 0
    leafmask = 0
    parts = []
    for i, c in enumerate(children):
        if c is not None:
            bitmap |= 1 << i
            if len(c) == 64:
                leafmask |= 1 << i
            parts.append(c)
    return bitmap.to_bytes(2, "big") + leafmask.to_bytes(2, "big") + b"".join(parts)


def decode_node(blob: bytes) -> Children:
    bitmap = int.from_bytes(blob[0:2], "big")
    leafmask = int.from_bytes(blob[2:4], "big")
    children: Children = [None] * RADIX
    pos = 4
    for i in range(RADIX):
        if bitmap >> i & 1:
            size = 64 if leafmask >> i & 1 else 32
            children[i] = blob[pos:pos + size]
            pos += size
    if pos != len(blob):
        raise ValueError("corrupt tree node")
    return children


def hash_children(children: Children) -> bytes:
    bitmap = 0
    parts = []
    for i, c in enumerate(children):
        if c is not None:
            bitmap |= 1 << i
            parts.append(c[-32:])
    return compute_node_hash(bitmap, parts)


class TreeUpdate:
    """One batch of changes applied to the tree in a single pass.

    `apply(root, items)` takes items sorted by keyhash, each `(keyhash, leafhash | None)`
    (None deletes), and returns the new root ref. Shared paths are rebuilt once per batch;
    `new_nodes` maps each created node's hash to its encoding (what to persist).
    """

    def __init__(self, load: Loader):
        self.load = load
        self.new_nodes: dict[bytes, bytes] = {}
        self.new_children: dict[bytes, Children] = {}

    def apply(self, root: bytes | None, items: list[tuple[bytes, bytes | None]]) -> bytes | None:
        if not items:
            return root
        return self._update(root, 0, items)

    # A subtree with 0 keys is None, with 1 key its leaf, otherwise an internal node.
    def _make_node(self, children: Children) -> bytes | None:
        count = 0
        only = None
        for c in children:
            if c is not None:
                count += 1
                only = c
        if count == 0:
            return None
        if count == 1 and len(only) == 64:
            return only  # a lone leaf moves up to replace its parent
        h = hash_children(children)
        self.new_nodes[h] = encode_node(children)
        self.new_children[h] = children
        return h

    def _build(self, depth: int, leaves: list[tuple[bytes, bytes]]) -> bytes | None:
        """The canonical subtree for `leaves` (all present, sorted, distinct)."""
        n = len(leaves)
        if n == 0:
            return None
        if n == 1:
            kh, lh = leaves[0]
            return kh + lh
        if depth >= MAX_DEPTH:
            raise ValueError("duplicate key hash")
        children: Children = [None] * RADIX
        for nib, group in _groups(leaves, depth):
            children[nib] = self._build(depth + 1, group)
        return self._make_node(children)

    def _update(self, ref: bytes | None, depth: int, items) -> bytes | None:
        if ref is None:
            return self._build(depth, [(k, v) for k, v in items if v is not None])
        if len(ref) == 64:
            old_kh = ref[:32]
            merged = []
            placed = False
            for kh, lh in items:
                if not placed and old_kh <= kh:
                    placed = True
                    if old_kh != kh:
                        merged.append((old_kh, ref[32:]))
                if lh is not None:
                    merged.append((kh, lh))
            if not placed:
                merged.append((old_kh, ref[32:]))
            return self._build(depth, merged)
        old = self.load(ref)
        children = list(old)
        for nib, group in _groups(items, depth):
            children[nib] = self._update(old[nib], depth + 1, group)
        if children == old:
            return ref
        return self._make_node(children)


def _groups(items, depth: int):
    """Split sorted items into runs sharing the nibble at `depth`."""
    if len(items) == 1:
        yield nibble(items[0][0], depth), items
        return
    start = 0
    cur = nibble(items[0][0], depth)
    for i in range(1, len(items)):
        nb = nibble(items[i][0], depth)
        if nb != cur:
            yield cur, items[start:i]
            start = i
            cur = nb
    yield cur, items[start:]


def walk_path(load: Loader, root: bytes | None, key_hash: bytes):
    """Descend towards key_hash: returns (levels, terminal_ref) where levels are
    (children, nibble) for each internal node on the path."""
    levels = []
    ref = root
    depth = 0
    while ref is not None and len(ref) == 32:
        children = load(ref)
        nib = nibble(key_hash, depth)
        levels.append((children, nib))
        ref = children[nib]
        depth += 1
    return levels, ref
