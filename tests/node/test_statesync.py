"""State sync over the in-memory network: a validator takes snapshots; a fresh full node
restores the newest one (verified against light-client-verified headers), then follows
the chain by block sync. A lying peer's chunk is refused and the peer penalised; a
snapshot of a false state (chunks consistent with their manifest) fails the root check."""
from __future__ import annotations

from hashlib import sha256
from pathlib import Path

import msgpack
import pytest
import trio

from node.config import StateSyncSection
from node.home import Home
from node.runtime.snapshots import CHUNK_BYTES, Manifest, SnapshotError, decode_chunk, write_snapshot
from node.runtime.statesync import StateSync, maybe_state_sync
from p2p.ids import ChainTopics, LIGHT_BLOCK, SNAPSHOT_CHUNK, SNAPSHOT_MANIFEST, SNAPSHOTS, STATUS
from p2p.memory import open_memory_network
from p2p.messages import (
    ChunkResponse, ManifestRequest, ManifestResponse, SnapshotsRequest, SnapshotsResponse,
)
from state.store import Store
from testnet.network import generate
from tests.node.test_node_inprocess import FAST, Running, make_node, start, wait_for

CHAIN = "sync-chain"
TOPICS = ChainTopics(CHAIN)


async def _validator_with_snapshots(nursery, net, info):
    v = await start(nursery, net, info.nodes[0].home, info.nodes[0].name)
    # deadlines sized for a loaded 2-core machine (the chain needs ~8 blocks first)
    await wait_for(lambda: len(v.node.snapshotter.snapshots.offers()) >= 2 and v.node.chain.height >= 8,
                   timeout=90)
    return v.node


def _sync_config(validator) -> StateSyncSection:
    return StateSyncSection(enable=True, trust_height=1, trust_hash=validator.chain.block(1).id().hex())


async def test_a_fresh_node_state_syncs_then_block_syncs_to_the_tip(own_dir):
    overrides = dict(FAST, storage={"snapshot_interval": 3, "snapshot_keep": 2})
    info = generate(own_dir, 1, chain_id=CHAIN, n_full=1, config_overrides=overrides)
    async with open_memory_network(seed=4) as net, trio.open_nursery() as nursery:
        validator = await _validator_with_snapshots(nursery, net, info)
        offers = validator.snapshotter.snapshots.offers()
        newest = offers[0][0]
        assert len(offers) == 2 and newest % 3 == 0  # snapshot_keep, snapshot_interval
        assert sorted(p.name for p in (Path(info.nodes[0].home) / "data" / "snapshots").iterdir()) == \
            sorted(str(o[0]) for o in offers)
        home = Home(Path(info.nodes[1].home))
        async with net.open_transport(info.nodes[1].name) as transport:
            h = await maybe_state_sync(transport, CHAIN, home.state_db, home.data_dir / "seen_commit.bin",
                                       _sync_config(validator))
            assert h >= newest
            with Store(home.state_db) as restored:
                assert restored.height == h and restored.app_hash == validator.chain.store.app_hash_at(h)
            # a second start finds the state and does not sync again
            assert await maybe_state_sync(transport, CHAIN, home.state_db, home.data_dir / "x",
                                          _sync_config(validator)) is None
            full = Running(make_node(info.nodes[1].home, transport))
            await nursery.start(full.run)
            target = validator.chain.height + 2
            await wait_for(lambda: full.node.chain.height >= target, timeout=60)
            assert full.node.chain.store.app_hash_at(target) == validator.chain.store.app_hash_at(target)
            assert full.node.chain.earliest_block_height == h + 1
            assert full.node.chain.block(h) is None and full.node.chain.block(h + 1) is not None
            full.scope.cancel()
            await full.done.wait()
        nursery.cancel_scope.cancel()


async def _serve_liar(liar, honest: str, topics, fake_chunk_of) -> None:
    """A peer that relays the honest node's answers, but corrupts every chunk and also
    offers a snapshot of a false state whose chunks match their own manifest."""
    async def relay(kind):
        async def handler(peer, payload):
            return await liar.request(honest, topics.protocol(kind), payload)
        return handler

    fake: dict[int, tuple[bytes, bytes]] = {}  # height -> (manifest, chunk)

    async def offers(peer, payload):
        raw = await liar.request(honest, topics.protocol(SNAPSHOTS), payload)
        real = SnapshotsResponse.decode(raw, len(raw)).offers
        h = real[0][0]
        m_raw = ManifestResponse.decode(await liar.request(honest, topics.protocol(SNAPSHOT_MANIFEST),
                                                           ManifestRequest(h).encode()), 1 << 23).manifest
        m = Manifest.decode(m_raw)
        chunk = fake_chunk_of(h)
        forged = Manifest(h, m.app_hash, m.keys, (sha256(chunk).digest(),)).encode()
        fake[h] = (forged, chunk)
        return SnapshotsResponse(((h, 1, 1, sha256(forged).digest()),) + real).encode()

    async def manifest(peer, payload):
        h = ManifestRequest.decode(payload, 64).height
        if h in fake:  # asked by the one that tries the forged offer first
            forged, _ = fake.pop(h)
            fake[-h] = (forged, _)
            return ManifestResponse(forged).encode()
        return await liar.request(honest, topics.protocol(SNAPSHOT_MANIFEST), payload)

    async def chunk(peer, payload):
        if any(k < 0 for k in fake):  # the forged snapshot's chunk, consistent with its manifest
            return ChunkResponse(fake.pop(next(k for k in fake if k < 0))[1]).encode()
        raw = await liar.request(honest, topics.protocol(SNAPSHOT_CHUNK), payload)
        data = bytearray(ChunkResponse.decode(raw, len(raw)).chunk)
        data[-1] ^= 1
        return ChunkResponse(bytes(data)).encode()

    liar.set_request_handler(topics.protocol(SNAPSHOTS), offers)
    liar.set_request_handler(topics.protocol(SNAPSHOT_MANIFEST), manifest)
    liar.set_request_handler(topics.protocol(SNAPSHOT_CHUNK), chunk)
    for kind in (LIGHT_BLOCK, STATUS):
        liar.set_request_handler(topics.protocol(kind), await relay(kind))


async def test_a_lying_peer_is_refused_and_penalised_and_the_honest_snapshot_wins(own_dir):
    overrides = dict(FAST, storage={"snapshot_interval": 3, "snapshot_keep": 2})
    info = generate(own_dir, 1, chain_id=CHAIN, n_full=1, config_overrides=overrides)
    async with open_memory_network(seed=5) as net, trio.open_nursery() as nursery:
        validator = await _validator_with_snapshots(nursery, net, info)
        honest = validator.transport.local_peer

        def fake_chunk_of(h):  # the real state at h with one value changed
            _, _, items = validator.chain.store.state_snapshot()
            flat = [x for kv in items for x in kv]
            flat[1] = flat[1] + b"!"
            return msgpack.packb(flat, use_bin_type=True)

        home = Home(Path(info.nodes[1].home))
        async with net.open_transport("a-liar") as liar, net.open_transport(info.nodes[1].name) as me:
            await _serve_liar(liar, honest, validator.topics, fake_chunk_of)
            await wait_for(lambda: {"a-liar", honest} <= set(me.peers()))
            cfg = _sync_config(validator)
            sync = StateSync(me, CHAIN, home.state_db, home.data_dir / "seen_commit.bin", cfg.trust_height,
                             bytes.fromhex(cfg.trust_hash))
            offers = await sync.offers()
            assert offers[0].peers == ("a-liar",)  # the forged snapshot comes first
            h = await sync.run()
            assert sync.refused_chunks >= 1
            assert me.counters.penalties["invalid"] >= 2   # the false state, and a bad chunk
            assert me.penalties.points("a-liar") >= 50 and me.penalties.points(honest) == 0
            with Store(home.state_db) as restored:
                assert restored.app_hash == validator.chain.store.app_hash_at(h)
        nursery.cancel_scope.cancel()


def test_snapshot_format_round_trips_and_refuses_bad_input(tmp_path):
    items = [(b"k%05d" % i, b"v" * (i % 50)) for i in range(30_000)]
    m = write_snapshot(tmp_path, 7, b"\x01" * 32, iter(items), chunk_bytes=CHUNK_BYTES // 4)
    assert len(m.chunk_hashes) > 1 and m.keys == len(items)
    assert Manifest.decode((tmp_path / "7" / "manifest").read_bytes()) == m
    flat, last = [], None
    for i, want in enumerate(m.chunk_hashes):
        raw = (tmp_path / "7" / f"chunk-{i:05d}").read_bytes()
        assert sha256(raw).digest() == want
        got = decode_chunk(raw, last)
        last = got[-2]
        flat += got
    assert list(zip(flat[::2], flat[1::2])) == items
    for bad in (b"", b"\xc1", msgpack.packb([2, 7, b"\x01" * 32, 1, b""]),
                msgpack.packb([1, 7, b"\x01" * 31, 1, b""]), msgpack.packb([1, 7, b"\x01" * 32, 1, b"x"])):
        with pytest.raises(SnapshotError):
            Manifest.decode(bad)
    for bad, after in ((msgpack.packb([b"b", b"1", b"a", b"2"]), None),   # out of order
                       (msgpack.packb([b"a", b"1"]), b"a"),                # not above the last chunk
                       (msgpack.packb([b"a", 1]), None), (msgpack.packb([b"a"]), None),
                       (msgpack.packb([b"", b"1"]), None), (b"\xc1", None)):
        with pytest.raises(SnapshotError):
            decode_chunk(bad, after)


async def test_no_peer_or_no_snapshot_is_a_clear_error_and_writes_nothing(tmp_path):
    from node.runtime.statesync import StateSyncError
    cfg = StateSyncSection(enable=True, trust_height=1, trust_hash="00" * 32)
    async with open_memory_network(seed=6) as net, net.open_transport("me") as me:
        with pytest.raises(StateSyncError) as e:
            await maybe_state_sync(me, CHAIN, tmp_path / "state.db", tmp_path / "seen", cfg, wait_peers_s=0.2)
        assert e.value.code == "no_peers"
        async with net.open_transport("empty") as empty:
            empty.set_request_handler(TOPICS.protocol(SNAPSHOTS),
                                      lambda peer, payload: _no_offers())
            await wait_for(lambda: "empty" in me.peers())
            with pytest.raises(StateSyncError) as e:
                await maybe_state_sync(me, CHAIN, tmp_path / "state.db", tmp_path / "seen", cfg)
            assert e.value.code == "no_snapshots"
    assert not (tmp_path / "state.db").exists()


async def _no_offers() -> bytes:
    return SnapshotsResponse(()).encode()
