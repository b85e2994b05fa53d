"""The node gossips what the shared executor says (consensus/executor.py): a vote lost on
the gossip topic reaches its peers again by the executor's periodic re-gossip, sent
straight to them (gossipsub would drop a re-publish of a message it has seen)."""
from __future__ import annotations

import trio

from consensus.types import Vote, VoteType
from node.runtime.sync import CatchUp
from p2p.ids import ChainTopics
from p2p.memory import open_memory_network
from p2p.messages import VoteMessage
from testnet.network import generate
from tests.node.test_node_inprocess import FAST, start, wait_for


async def test_a_lost_prevote_reaches_the_peers_by_regossip_and_its_round_decides(own_dir, monkeypatch):
    # 4 equal validators, 3 running: every round needs all three votes. One prevote for a
    # value is lost to every peer; nothing else re-sends it (the vote pull is stopped first,
    # and no timeout fires without 2f+1 votes), so its round decides only if re-gossip
    # delivers it.
    pulls: list[trio.CancelScope] = []
    real_vote_pull = CatchUp.run_vote_pull

    async def vote_pull_until_armed(self, interval=1.0, *, task_status=trio.TASK_STATUS_IGNORED):
        with trio.CancelScope() as scope:
            pulls.append(scope)
            await real_vote_pull(self, interval, task_status=task_status)
    monkeypatch.setattr(CatchUp, "run_vote_pull", vote_pull_until_armed)
    info = generate(own_dir, 4, chain_id="mem-chain", config_overrides=FAST)
    votes_topic = ChainTopics("mem-chain").votes
    armed = {"from": None}  # the node whose next value prevote is lost, once armed
    lost: list[Vote] = []

    def drop_if(sender, receiver, topic, payload):
        if topic != votes_topic or sender != armed["from"]:
            return False
        v = Vote.decode(VoteMessage.decode(payload, 70_000).vote)
        if lost:
            return v == lost[0]  # every copy of that one vote
        if v.type == VoteType.PREVOTE and v.value_id is not None:
            lost.append(v)
            return True
        return False

    async with open_memory_network(seed=7, drop_if=drop_if) as net, trio.open_nursery() as nursery:
        nodes = [await start(nursery, net, n.home, n.name) for n in info.nodes[:3]]
        await wait_for(lambda: all(r.node.chain.height >= 1 for r in nodes))
        for scope in pulls:
            scope.cancel()
        armed["from"] = info.nodes[0].name
        await wait_for(lambda: bool(lost))
        h = lost[0].height
        await wait_for(lambda: all(r.node.chain.height >= h for r in nodes))
        commits = [r.node.chain.commit(h) for r in nodes]
        assert {c.round for c in commits} == {lost[0].round}  # decided in the round of the loss
        assert len({r.node.chain.block(h).id() for r in nodes}) == 1
        nursery.cancel_scope.cancel()
