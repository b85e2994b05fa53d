"""Catch-up asks peers for their status only when there is a reason (node/runtime/sync.py): a live
network is not polled every second (a sixth of an idle node's CPU, docs/bench.md "Idle")."""
from __future__ import annotations

from types import SimpleNamespace

import trio
import trio.testing

from node.runtime.sync import CatchUp, CatchupWanted
from p2p.ids import ChainTopics
from p2p.messages import Status
from p2p.transport import RequestError


class PeerStatus:
    """Two peers at our height; records every request."""

    def __init__(self, node):
        self.node = node
        self.asked: list[tuple[float, str]] = []

    def peers(self):
        return ["p1", "p2"]

    async def request(self, peer, protocol, payload, timeout=5.0):
        self.asked.append((trio.current_time(), protocol.rsplit("/", 2)[-2]))
        if "status" in protocol:
            return Status(self.node.chain.height, 0, b"\x00" * 32, 1).encode()
        raise RequestError("no_handler", protocol)


def fake_node():
    node = SimpleNamespace(chain=SimpleNamespace(height=5), catchup_wanted=CatchupWanted(),
                           consensus=SimpleNamespace(awaiting_block=False, current_round=0,
                                                     height=5, round_age=lambda: 2.0))
    node.transport = PeerStatus(node)
    node.catchup = CatchUp(node.transport, ChainTopics("poll-chain"), node.chain, node.consensus,
                           admission=SimpleNamespace(max_round=lambda h: 10), submit=None, peer_heights={},
                           wanted=node.catchup_wanted)
    return node


def test_status_is_polled_when_asked_or_when_the_height_stalls():
    clock = trio.testing.MockClock(autojump_threshold=0)
    node = fake_node()

    async def scenario():
        async with trio.open_nursery() as n:
            n.start_soon(node.catchup.run, 1.0)
            await trio.sleep(0.5)
            assert [p for _, p in node.transport.asked] == ["status", "status"]  # at start
            node.transport.asked.clear()
            for _ in range(6):  # a live chain: a block every second, no polling
                await trio.sleep(1.0)
                node.chain.height += 1
            last_block = trio.current_time()
            assert node.transport.asked == []
            node.catchup_wanted.set()  # e.g. a peer connected
            await trio.sleep(0.5)
            assert [p for _, p in node.transport.asked] == ["status", "status"]
            node.transport.asked.clear()
            await trio.sleep(5.0)  # the height stalls: polled again 2-3 intervals after its last block
            assert node.transport.asked and 2.0 <= node.transport.asked[0][0] - last_block <= 3.0
            n.cancel_scope.cancel()

    trio.run(scenario, clock=clock)  # virtual time: no real waiting


def test_no_vote_pull_while_the_height_is_decided():
    clock = trio.testing.MockClock(autojump_threshold=0)
    node = fake_node()  # chain at 5, driver still at 5: decided, in the commit timeout

    async def scenario():
        async with trio.open_nursery() as n:
            n.start_soon(node.catchup.run_vote_pull, 1.0)
            await trio.sleep(3.5)
            assert node.transport.asked == []
            node.consensus.height = 6  # height 6 started and its round is stale
            await trio.sleep(1.5)
            assert {p for _, p in node.transport.asked} == {"votes-of-round"}
            n.cancel_scope.cancel()

    trio.run(scenario, clock=clock)
