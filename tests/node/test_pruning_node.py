"""A node with [storage] keep_recent: it keeps the last heights, answers `pruned` below
them over RPC and p2p (blocks, light blocks, proofs), drops the pruned blocks' records,
and keeps the archive node's app hashes."""
from __future__ import annotations

import pytest
import trio
from nacl.signing import SigningKey

from node.config import ConfigError, config_from_dict
from node.keys import Keyring
from node.rpc.rpc_params import RpcError
from p2p.memory import open_memory_network
from p2p.messages import BlocksRequest, BlocksResponse, LightBlockRequest, Status, StatusRequest
from p2p.transport import RequestError
from state.address import encode_address
from state.keys import block_record_key
from state.tx import sign_tx
from testnet.network import generate
from tests.node.test_node_inprocess import FAST, start, wait_for

KEEP = 3


async def test_a_pruning_node_keeps_the_window_and_answers_pruned_below_it(own_dir):
    overrides = dict(FAST, storage={"keep_recent": KEEP, "compact_interval": 2})
    info = generate(own_dir, 1, chain_id="prune-chain", n_full=1, config_overrides=overrides)
    ring = Keyring(own_dir / "keyring")
    alice, bob = ring.get("alice"), ring.get("bob")
    async with open_memory_network(seed=3) as net, trio.open_nursery() as nursery:
        validator = await start(nursery, net, info.nodes[0].home, info.nodes[0].name)
        node = validator.node
        raw = sign_tx(SigningKey(alice.seed), "prune-chain", 0, 1000, "transfer", [bob.address, 5])
        tx = node.txs.admit(raw)
        await wait_for(lambda: node.chain.tx_record(tx.tx_id) is not None)
        tx_height = node.chain.tx_record(tx.tx_id)[0]
        app_hashes = {}

        def remember():
            app_hashes.setdefault(node.chain.height, node.chain.app_hash)
            return node.chain.height >= tx_height + KEEP + 4
        await wait_for(remember, timeout=90)  # ~10 blocks, on a loaded 2-core machine
        top = node.chain.height
        store = node.chain.store
        assert store.base == top - KEEP + 1 == store.pruned_below
        assert node.chain.block_bytes(tx_height) is None and node.chain.tx_record(tx.tx_id) is None
        assert node.chain.store.get_record(block_record_key(top - KEEP + 1)) is not None
        for h in range(store.base, top + 1):
            if h in app_hashes:
                assert store.app_hash_at(h) == app_hashes[h]

        rpc = node.rpc()
        with pytest.raises(RpcError) as e:
            await rpc.query("account", {"address": encode_address(alice.address)}, 1)
        assert (e.value.status, e.value.code) == (410, "pruned")
        assert (await rpc.query("account", {"address": encode_address(alice.address)}, store.base))["nonce"] == 1

        async with net.open_transport("peer") as peer:
            protocol = node.topics.protocol
            await wait_for(lambda: node.transport.local_peer in peer.peers())
            st = Status.decode(await peer.request(node.transport.local_peer, protocol("status"),
                                                  StatusRequest().encode()), 256)
            assert st.earliest_height == node.chain.earliest_block_height == store.base
            for proto, req in (("blocks", BlocksRequest(1, 5)),
                               ("light-block", LightBlockRequest(store.base - 1))):
                with pytest.raises(RequestError) as e:
                    await peer.request(node.transport.local_peer, protocol(proto), req.encode())
                assert e.value.code == "pruned"
            got = await peer.request(node.transport.local_peer, protocol("blocks"),
                                     BlocksRequest(store.base, store.base + 1).encode())
            assert len(BlocksResponse.decode(got, len(got)).blocks) == 2
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("storage, statesync, message", [
    ({"keep_recent": 1}, {}, "storage.keep_recent"),
    ({"compact_interval": 0}, {}, "storage.compact_interval"),
    ({}, {"enable": True, "trust_height": 0, "trust_hash": "00" * 32}, "statesync.trust_height"),
    ({}, {"enable": True, "trust_height": 5, "trust_hash": "zz"}, "statesync.trust_hash"),
])
def test_bad_storage_and_statesync_config_names_the_key(storage, statesync, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"storage": storage, "statesync": statesync})


def test_a_pruner_catches_up_at_most_prune_max_heights_per_block(tmp_path):
    from node.config import StorageSection
    from node.runtime.pruning import Pruner
    from state.store import Store
    with Store(tmp_path / "s") as store:
        for h in range(1, 21):
            store.commit(h, {b"k": b"%d" % h})
        pruner = Pruner(store, StorageSection(keep_recent=3, prune_max_heights=5, compact_interval=8))
        assert pruner.after_commit()["heights"] == 5 and store.base == 6  # from base 1
        assert not pruner.compaction_due()
        pruner.after_commit()
        assert store.base == 11 and pruner.compaction_due() and not pruner.compaction_due()
        while pruner.after_commit():
            pass
        assert store.base == 18 == store.height - 3 + 1
        assert Pruner(store, StorageSection(keep_recent=0)).after_commit() is None  # archive
