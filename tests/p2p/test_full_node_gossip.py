"""A full node peered with one validator is in the gossip (real libp2p, one process):
the validator does not list it, so only one side has the other as a persistent peer."""
from __future__ import annotations

import pytest
import trio

from libp2p_net import CHAIN, addr, free_port, node_config, receive_within, until
from p2p.ids import ChainTopics
from p2p.libp2p_transport import open_libp2p_transport
from p2p.messages import TxBatch

pytestmark = pytest.mark.xdist_group("p2p")
TOPICS = ChainTopics(CHAIN)
HEARTBEAT = 0.25


async def test_full_node_listed_by_nobody_gets_and_sends_gossip_through_its_one_validator():
    v0, v1, full = b"0" * 32, b"1" * 32, b"f" * 32
    p0, p1 = free_port(), free_port()
    # The node's default config: no validator list, every persistent peer taken as a
    # fellow validator (a gossipsub direct peer). The validators list each other only.
    def cfg(seed, port, peers):
        return node_config(seed, port, peers, heartbeat_interval=HEARTBEAT)
    async with open_libp2p_transport(cfg(v0, p0, (addr(v1, p1),))) as a, \
            open_libp2p_transport(cfg(v1, p1, (addr(v0, p0),))) as b, \
            open_libp2p_transport(cfg(full, 0, (addr(v0, p0),))) as f:
        inbox = {t.local_peer: await t.subscribe(TOPICS.txs) for t in (a, b, f)}
        # validator V1 -> V0 -> F: what a validator publishes reaches the full node, and
        # keeps reaching it across V0's mesh upkeep (a pruned F would miss the later ones)
        await until(lambda: f.local_peer in a.subscribed_peers(TOPICS.txs))
        for i in range(8):
            from_v1 = TxBatch((b"from validator 1, #%d" % i,)).encode()
            await b.publish(TOPICS.txs, from_v1)
            got = await receive_within(inbox[f.local_peer])  # a pruned F never gets it
            assert (got.source, got.payload) == (b.local_peer, from_v1)
            await trio.sleep(HEARTBEAT)  # pacing, not waiting: spread over heartbeats
        # F -> V0 -> V1: what the full node publishes reaches the other validator
        batch = TxBatch((b"from the full node",)).encode()
        await f.publish(TOPICS.txs, batch)
        while True:
            msg = await receive_within(inbox[b.local_peer])
            if msg.payload == batch:
                break
        assert msg.source == f.local_peer
        assert f.peers() == [a.local_peer]
