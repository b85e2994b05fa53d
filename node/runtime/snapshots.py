"""State snapshots for state sync: taken every `snapshot_interval` heights, `snapshot_keep`
of them kept under <home>/data/snapshots/, served in chunks to peers (docs/store.md,
Snapshots).

Format 1. A snapshot of height H is the whole state after block H (every key of the
store's `S` table, in key order) cut into chunks of about CHUNK_BYTES:
    chunk    = msgpack [key0, value0, key1, value1, ...]   keys strictly increasing
    manifest = msgpack [1, H, app_hash, keys, chunk_hashes]  chunk_hashes: sha256 of each
                                                             chunk, concatenated
The manifest's sha256 names the snapshot in offers. A restoring node checks each chunk
against the manifest, the keys' order across chunks, and the rebuilt tree's root against
the app hash of a light-client-verified header (node/runtime/statesync.py), so neither the
manifest nor a chunk is trusted on its own.

Taking one: right after the commit of H the consensus task opens a LevelDB snapshot (an
O(1) consistent view); a worker thread writes the chunks from it while blocks go on.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import msgpack
import trio

from node.logs import get_logger, log_event
from p2p.ids import SNAPSHOT_CHUNK, SNAPSHOT_MANIFEST, SNAPSHOTS
from p2p.messages import (
    MAX_ITEM_SIZE, MAX_MANIFEST_BYTES, MAX_SNAPSHOT_CHUNKS, MAX_SNAPSHOT_OFFERS, ChunkRequest,
    ChunkResponse, ManifestRequest, ManifestResponse, SnapshotsRequest, SnapshotsResponse,
)
from p2p.transport import PeerId, RequestError, Transport
from state.store import MAX_KEY_BYTES

if TYPE_CHECKING:
    from p2p.ids import ChainTopics
    from state.store import Store

log = get_logger("attrchain.snapshots")

FORMAT = 1
CHUNK_BYTES = 1 << 20          # target size of a chunk (the last pair may overshoot)
MAX_CHUNK_BYTES = MAX_ITEM_SIZE  # what a restoring node accepts


class SnapshotError(ValueError):
    """A manifest or chunk that is malformed or breaks the format's rules."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Manifest:
    height: int
    app_hash: bytes
    keys: int
    chunk_hashes: tuple[bytes, ...]

    def encode(self) -> bytes:
        return msgpack.packb([FORMAT, self.height, self.app_hash, self.keys,
                              b"".join(self.chunk_hashes)], use_bin_type=True)

    @classmethod
    def decode(cls, data: bytes) -> "Manifest":
        """Bounded and total: anything malformed raises SnapshotError."""
        if type(data) is not bytes or len(data) > MAX_MANIFEST_BYTES:
            raise SnapshotError("bad_manifest", "not bytes, or over the size limit")
        try:
            f = msgpack.unpackb(data, raw=False, max_array_len=8, max_map_len=0, max_str_len=0,
                                max_bin_len=MAX_MANIFEST_BYTES)
        except Exception as e:  # noqa: BLE001 -- any msgpack failure is malformed input
            raise SnapshotError("bad_manifest", f"not msgpack ({type(e).__name__})") from None
        if (type(f) is not list or len(f) != 5 or f[0] != FORMAT or any(type(x) is not int for x in f[1:2])
                or type(f[3]) is not int or type(f[2]) is not bytes or len(f[2]) != 32
                or type(f[4]) is not bytes or len(f[4]) % 32 or f[1] < 1 or f[3] < 0):
            raise SnapshotError("bad_manifest", "want [1, height >= 1, app_hash(32), keys, hashes(32*n)]")
        hashes = tuple(f[4][i:i + 32] for i in range(0, len(f[4]), 32))
        if len(hashes) > MAX_SNAPSHOT_CHUNKS:
            raise SnapshotError("bad_manifest", f"{len(hashes)} chunks > {MAX_SNAPSHOT_CHUNKS}")
        return cls(f[1], f[2], f[3], hashes)


def decode_chunk(data: bytes, after: bytes | None) -> list[bytes]:
    """The flat [key, value, ...] list of a chunk whose hash was checked; keys must be
    bytes of 1..MAX_KEY_BYTES, strictly increasing, and above `after` (the previous
    chunk's last key), so a restored state has no duplicate and one canonical order."""
    try:
        flat = msgpack.unpackb(data, raw=False, max_array_len=MAX_CHUNK_BYTES, max_map_len=0,
                               max_str_len=0, max_bin_len=MAX_CHUNK_BYTES)
    except Exception as e:  # noqa: BLE001
        raise SnapshotError("bad_chunk", f"not msgpack ({type(e).__name__})") from None
    if type(flat) is not list or len(flat) % 2:
        raise SnapshotError("bad_chunk", "want a flat [key, value, ...] list")
    prev = after
    for i in range(0, len(flat), 2):
        k, v = flat[i], flat[i + 1]
        if type(k) is not bytes or type(v) is not bytes or not 0 < len(k) <= MAX_KEY_BYTES:
            raise SnapshotError("bad_chunk", f"pair {i // 2}: key and value must be bytes")
        if prev is not None and k <= prev:
            raise SnapshotError("bad_chunk", f"pair {i // 2}: keys out of order")
        prev = k
    return flat


def write_snapshot(root: Path, height: int, app_hash: bytes, items: Iterable[tuple[bytes, bytes]],
                   chunk_bytes: int = CHUNK_BYTES) -> Manifest:
    """Write snapshot `height` under root/<height>/ (built in a temporary directory and
    renamed, so a crash never leaves half a snapshot that looks whole)."""
    tmp = root / f".{height}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    hashes: list[bytes] = []
    flat: list[bytes] = []
    size = keys = 0

    def flush() -> None:
        data = msgpack.packb(flat, use_bin_type=True)
        (tmp / f"chunk-{len(hashes):05d}").write_bytes(data)
        hashes.append(sha256(data).digest())
        flat.clear()

    for key, value in items:
        flat.append(key)
        flat.append(value)
        keys += 1
        size += len(key) + len(value) + 10
        if size >= chunk_bytes:
            flush()
            size = 0
    if flat or not hashes:
        flush()
    manifest = Manifest(height, app_hash, keys, tuple(hashes))
    (tmp / "manifest").write_bytes(manifest.encode())
    final = root / str(height)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return manifest


class SnapshotStore:
    """The snapshots on disk, newest `keep` of them, with their manifests in memory."""

    def __init__(self, root: Path, keep: int):
        self.root = root
        self.keep = keep
        self.manifests: dict[int, tuple[bytes, bytes, int]] = {}  # height -> (manifest, hash, chunks)
        root.mkdir(parents=True, exist_ok=True)
        for d in root.iterdir():
            if d.name.isdigit() and (d / "manifest").exists():
                self._index(int(d.name))
            elif d.name.startswith("."):
                shutil.rmtree(d, ignore_errors=True)  # a write a crash interrupted
        self._trim()

    def _index(self, height: int) -> None:
        raw = (self.root / str(height) / "manifest").read_bytes()
        self.manifests[height] = (raw, sha256(raw).digest(), len(Manifest.decode(raw).chunk_hashes))

    def write(self, height: int, app_hash: bytes, items: Iterable[tuple[bytes, bytes]]) -> Manifest:
        m = write_snapshot(self.root, height, app_hash, items)
        self._index(height)
        self._trim()
        return m

    def _trim(self) -> None:
        for h in sorted(self.manifests)[:-self.keep]:
            del self.manifests[h]
            shutil.rmtree(self.root / str(h), ignore_errors=True)

    def offers(self) -> tuple[tuple[int, int, int, bytes], ...]:
        newest = sorted(self.manifests, reverse=True)[:MAX_SNAPSHOT_OFFERS]
        return tuple((h, FORMAT, self.manifests[h][2], self.manifests[h][1]) for h in newest)

    def manifest(self, height: int) -> bytes | None:
        got = self.manifests.get(height)
        return None if got is None else got[0]

    def chunk(self, height: int, index: int) -> bytes | None:
        got = self.manifests.get(height)
        if got is None or index >= got[2]:
            return None
        try:
            return (self.root / str(height) / f"chunk-{index:05d}").read_bytes()
        except FileNotFoundError:  # trimmed meanwhile
            return None


class Snapshotter:
    """Takes a snapshot every `interval` heights (0 = never): the view is opened in the
    consensus task right after the commit (`after_commit`), written by `run` in a thread."""

    def __init__(self, store: "Store", root: Path, interval: int, keep: int):
        self.store = store
        self.interval = interval
        self.snapshots = SnapshotStore(root, keep)
        # one view at a time: a snapshot still being written makes the next one skip
        self._due, self._rx = trio.open_memory_channel(0)

    def after_commit(self) -> None:
        h = self.store.height
        if not self.interval or h % self.interval:
            return
        view = self.store.state_snapshot()
        try:
            self._due.send_nowait(view)
        except trio.WouldBlock:  # the previous one is still being written: skip this one
            view[2].close()
            log_event(log, logging.WARNING, "snapshot_skipped", height=h)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for height, app_hash, items in self._rx:
            m = await trio.to_thread.run_sync(self.snapshots.write, height, app_hash, items)
            log_event(log, logging.INFO, "snapshot_taken", height=height, keys=m.keys,
                      chunks=len(m.chunk_hashes))


def register_snapshot_handlers(transport: Transport, topics: "ChainTopics", snapshots: SnapshotStore) -> None:
    async def offers(peer: PeerId, payload: bytes) -> bytes:
        SnapshotsRequest.decode(payload, max_size=16)
        return SnapshotsResponse(snapshots.offers()).encode()

    async def manifest(peer: PeerId, payload: bytes) -> bytes:
        req = ManifestRequest.decode(payload, max_size=32)
        raw = snapshots.manifest(req.height)
        if raw is None:
            raise RequestError("not_found", f"no snapshot at height {req.height}")
        return ManifestResponse(raw).encode()

    async def chunk(peer: PeerId, payload: bytes) -> bytes:
        req = ChunkRequest.decode(payload, max_size=32)
        raw = snapshots.chunk(req.height, req.index)
        if raw is None:
            raise RequestError("not_found", f"no chunk {req.index} of snapshot {req.height}")
        return ChunkResponse(raw).encode()

    transport.set_request_handler(topics.protocol(SNAPSHOTS), offers)
    transport.set_request_handler(topics.protocol(SNAPSHOT_MANIFEST), manifest)
    transport.set_request_handler(topics.protocol(SNAPSHOT_CHUNK), chunk)
