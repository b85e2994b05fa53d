"""State sync: a node with an empty home joins from a peer's snapshot instead of replaying
every block ([statesync] in the config; docs/operating.md).

1. Trust: a light client (node/light) anchored at [statesync] trust_height/trust_hash.
2. Offers: ask every peer for its snapshots (node/runtime/snapshots.py); the newest first.
3. Verify the target: light-verify headers H, H+1 and H+2 of the snapshot height H. The
   state after H is committed by header H+1's app_hash; the manifest must name it.
4. Chunks: fetched from the peers offering that manifest, each checked against the
   manifest's hash list before it is used. A chunk that does not match is refused and its
   sender penalised; the chunk is asked of the next peer.
5. Restore into a fresh directory (Store.bulk_load) and compare the rebuilt tree's root
   with the verified app hash: a manifest that lists a false state (consistent chunks of
   a state that is not the chain's) fails here and its peer is penalised. Only a
   verified store is renamed into place, with what the ledger needs to continue from H
   (validator sets of H..H+2, the last block's height/time/id, the seen commit of H),
   all taken from the verified light blocks.
6. The node then starts as usual and catch-up fetches blocks H+1, H+2, ... from peers.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, TypeVar

import trio

from node.runtime.durable import atomic_write
from node.light.client import LightClient
from node.light.errors import LightError, VerificationError
from node.light.p2p_provider import P2PProvider
from node.logs import get_logger, log_event
from node.runtime.snapshots import FORMAT, Manifest, SnapshotError, decode_chunk
from p2p.ids import SNAPSHOT_CHUNK, SNAPSHOT_MANIFEST, SNAPSHOTS, ChainTopics
from p2p.messages import (
    ChunkRequest, ChunkResponse, ManifestRequest, ManifestResponse, Message, MessageError,
    SnapshotsRequest, SnapshotsResponse,
)
from p2p.transport import PeerId, RequestError, Transport
from state.records import restored_records
from state.store import Store

if TYPE_CHECKING:
    from node.config import StateSyncSection
    from node.light.types import LightBlock

log = get_logger("attrchain.statesync")
M = TypeVar("M", bound=Message)

REQUEST_TIMEOUT = 20.0


class StateSyncError(SnapshotError):
    """State sync could not restore a verified snapshot (`code` names why)."""


@dataclass(frozen=True)
class Offer:
    height: int
    manifest_hash: bytes
    chunks: int
    peers: tuple[PeerId, ...]


class StateSync:
    def __init__(self, transport: Transport, chain_id: str, state_dir: Path, seen_commit_file: Path,
                 trust_height: int, trust_hash: bytes, *, clock=None):
        self.transport = transport
        self.chain_id = chain_id
        self.topics = ChainTopics(chain_id)
        self.state_dir = state_dir
        self.seen_commit_file = seen_commit_file
        self.trust_height = trust_height
        self.trust_hash = trust_hash
        self.clock = clock
        self.refused_chunks = 0

    async def _ask(self, peer: PeerId, kind: str, payload: bytes) -> bytes:
        return await self.transport.request(peer, self.topics.protocol(kind), payload, timeout=REQUEST_TIMEOUT)

    async def _answer(self, peer: PeerId, kind: str, request: Message, cls: type[M]) -> M | None:
        """The peer's decoded answer, or None if it has none; a malformed one is penalised."""
        try:
            raw = await self._ask(peer, kind, request.encode())
            return cls.decode(raw, max_size=len(raw))
        except MessageError:
            self.transport.penalise(peer, "malformed")
        except RequestError:
            pass
        return None

    async def offers(self) -> list[Offer]:
        """Every peer's offers of our format, grouped by (height, manifest hash), newest first."""
        by: dict[tuple[int, bytes, int], list[PeerId]] = {}
        for peer in self.transport.peers():
            got = await self._answer(peer, SNAPSHOTS, SnapshotsRequest(), SnapshotsResponse)
            for height, fmt, chunks, mhash in got.offers if got else ():
                if fmt == FORMAT and height >= 1:
                    by.setdefault((height, mhash, chunks), []).append(peer)
        return [Offer(h, m, c, tuple(p)) for (h, m, c), p in sorted(by.items(), key=lambda kv: -kv[0][0])]

    async def run(self) -> int:
        """Restore the newest snapshot that verifies; returns its height."""
        offers = await self.offers()
        if not offers:
            raise StateSyncError("no_snapshots", "no peer offers a snapshot")
        for offer in offers:
            try:
                return await self.restore(offer)
            except (SnapshotError, LightError) as e:
                log_event(log, logging.WARNING, "snapshot_failed", height=offer.height, error=str(e))
        raise StateSyncError("no_valid_snapshot", "no offered snapshot could be verified and restored")

    async def _light_blocks(self, peer: PeerId, height: int) -> list["LightBlock"]:
        kw = {} if self.clock is None else {"clock": self.clock}
        lc = LightClient(self.chain_id, P2PProvider(self.transport, peer, self.chain_id), **kw)
        try:
            await lc.init_trusted(self.trust_height, self.trust_hash)
            return [await lc.verify_to(h) for h in (height, height + 1, height + 2)]
        except VerificationError:
            self.transport.penalise(peer, "invalid")
            raise

    async def restore(self, offer: Offer) -> int:
        h = offer.height
        source = offer.peers[0]
        raw = await self._request_or_fail(source, SNAPSHOT_MANIFEST, ManifestRequest(h).encode())
        try:
            raw = ManifestResponse.decode(raw, max_size=len(raw)).manifest
        except MessageError as e:
            self.transport.penalise(source, "malformed")
            raise StateSyncError("bad_manifest", f"{source}: {e}") from None
        if sha256(raw).digest() != offer.manifest_hash:
            self.transport.penalise(source, "invalid")
            raise StateSyncError("bad_manifest", f"{source} sent a manifest that is not the one offered")
        manifest = Manifest.decode(raw)
        if manifest.height != h or len(manifest.chunk_hashes) != offer.chunks:
            self.transport.penalise(source, "invalid")
            raise StateSyncError("bad_manifest", "manifest does not match its offer")
        lb_h, lb_next, lb_after = await self._light_blocks(source, h)
        if manifest.app_hash != lb_next.header.app_hash:
            for peer in offer.peers:
                self.transport.penalise(peer, "invalid")
            raise StateSyncError("wrong_app_hash", f"snapshot {h} is not the verified state of height {h}")
        chunk_dir = self.state_dir.with_name(self.state_dir.name + ".chunks")
        restore_dir = self.state_dir.with_name(self.state_dir.name + ".restore")
        for d in (chunk_dir, restore_dir):
            shutil.rmtree(d, ignore_errors=True)
        chunk_dir.mkdir(parents=True)
        try:
            for i, want in enumerate(manifest.chunk_hashes):
                (chunk_dir / f"{i:05d}").write_bytes(await self._fetch_chunk(offer, i, want))
            records = restored_records(h, lb_h.header.time_ms, lb_h.id(),
                                       (lb_h.validators, lb_next.validators, lb_after.validators))
            try:
                app_hash = await trio.to_thread.run_sync(_bulk_restore, restore_dir, h, chunk_dir,
                                                         len(manifest.chunk_hashes), records)
            except SnapshotError:  # chunks that match the manifest but break the format
                for peer in offer.peers:
                    self.transport.penalise(peer, "invalid")
                raise
            if app_hash != manifest.app_hash:
                for peer in offer.peers:
                    self.transport.penalise(peer, "invalid")
                raise StateSyncError("wrong_root", f"the restored state of {h} does not have the verified app hash")
            atomic_write(self.seen_commit_file, lb_h.commit.encode())
            restore_dir.rename(self.state_dir)
        finally:
            shutil.rmtree(chunk_dir, ignore_errors=True)
            shutil.rmtree(restore_dir, ignore_errors=True)
        log_event(log, logging.INFO, "state_synced", height=h, keys=manifest.keys,
                  chunks=len(manifest.chunk_hashes), refused_chunks=self.refused_chunks)
        return h

    async def _request_or_fail(self, peer: PeerId, kind: str, payload: bytes) -> bytes:
        try:
            return await self._ask(peer, kind, payload)
        except RequestError as e:
            raise StateSyncError("unreachable", f"{kind} from {peer}: {e}") from None

    async def _fetch_chunk(self, offer: Offer, index: int, want: bytes) -> bytes:
        """Chunk `index` from the first peer whose answer hashes to `want`; a peer whose
        chunk does not is penalised and the next one asked."""
        n = len(offer.peers)
        for k in range(n):
            peer = offer.peers[(index + k) % n]  # spread chunks over the peers
            got = await self._answer(peer, SNAPSHOT_CHUNK, ChunkRequest(offer.height, index), ChunkResponse)
            if got is None:
                continue
            chunk = got.chunk
            if sha256(chunk).digest() != want:
                self.refused_chunks += 1
                self.transport.penalise(peer, "invalid")
                log_event(log, logging.WARNING, "snapshot_chunk_refused", peer=peer,
                          height=offer.height, index=index)
                continue
            return chunk
        raise StateSyncError("chunk_unavailable", f"no peer sent a valid chunk {index} of snapshot {offer.height}")


def _pairs(chunk_dir: Path, chunks: int) -> Iterator[tuple[bytes, bytes]]:
    last = None
    for i in range(chunks):
        flat = decode_chunk((chunk_dir / f"{i:05d}").read_bytes(), last)
        for j in range(0, len(flat), 2):
            yield flat[j], flat[j + 1]
        if flat:
            last = flat[-2]


def _bulk_restore(restore_dir: Path, height: int, chunk_dir: Path, chunks: int, records: dict) -> bytes:
    store = Store(restore_dir)
    try:
        return store.bulk_load(height, _pairs(chunk_dir, chunks), records)
    finally:
        store.close()


async def maybe_state_sync(transport: Transport, chain_id: str, state_dir: Path, seen_commit_file: Path,
                           cfg: "StateSyncSection", *, wait_peers_s: float = 30.0, clock=None) -> int | None:
    """Run state sync if it is enabled and the node has no state yet; returns the height
    restored, or None. Waits (up to `wait_peers_s`) for a first peer to connect."""
    if not cfg.enable or state_dir.exists():
        return None
    events = transport.peer_events()
    with trio.move_on_after(wait_peers_s):
        while not transport.peers():
            await events.receive()
    if not transport.peers():
        raise StateSyncError("no_peers", f"no peer connected within {wait_peers_s:g} s "
                                         "(check [p2p] persistent_peers)")
    sync = StateSync(transport, chain_id, state_dir, seen_commit_file, cfg.trust_height,
                     bytes.fromhex(cfg.trust_hash), clock=clock)
    return await sync.run()
