"""Crashes at the worst instants, in process (issue 9 item 6): a test-only crash point
(node/runtime/faults.py) raises instead of SIGKILLing, which stops the node's tasks right there
(nothing after it runs; what was written stays, as after a kill). The multi-process
SIGKILL suite is tests/e2e/test_crash.py."""
from __future__ import annotations

import json

import pytest
import trio

from consensus.types import Proposal
from node.runtime import faults
from node.home import Home
from p2p.ids import ChainTopics
from p2p.memory import open_memory_network
from p2p.messages import CompactProposal
from test_node_inprocess import FAST, Running, start, wait_for
from testnet.network import generate


class Crash(Exception):
    """Stands for SIGKILL at a crash point."""


class Crashable(Running):
    """A node whose services end quietly at a Crash (the test nursery goes on)."""

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED):
        try:
            await super().run(task_status=task_status)
        except* Crash:
            pass


def crash_once_at(monkeypatch, point: str, height: int) -> list[int]:
    """Make the first node to reach `point` at `height` or later crash there; returns
    the list the crash's height is appended to."""
    fired: list[int] = []

    def crash_point(p: str, h: int, _faults=None) -> None:
        if p == point and h >= height and not fired:
            fired.append(h)
            raise Crash(p)
    monkeypatch.setattr(faults, "crash_point", crash_point)
    return fired


async def test_lone_validator_killed_between_seen_commit_and_store_resumes(own_dir, monkeypatch):
    # (a): the seen commit of height 3 is written, block 3 is not stored. Every validator
    # (here the only one) restarts having decided 3 from its WAL; before the block was
    # logged in the WAL nobody had block 3 and the chain halted for good.
    info = generate(own_dir, 1, chain_id="mem-chain", config_overrides=FAST)
    fired = crash_once_at(monkeypatch, "seen_commit", 3)
    home, name = info.nodes[0].home, info.nodes[0].name
    async with open_memory_network(seed=5) as net, trio.open_nursery() as nursery:
        r = await start(nursery, net, home, name, Crashable)
        await r.done.wait()
        assert fired == [3] and Home(home).data_dir.joinpath("seen_commit.bin").exists()
        r = await start(nursery, net, home, name, Crashable)
        await wait_for(lambda: r.node.chain.height >= 5)
        chain = r.node.chain
        assert chain.commit(3).value_id == chain.block(3).id()
        assert chain.block(4).last_commit.value_id == chain.block(3).id()
        nursery.cancel_scope.cancel()


async def test_proposer_killed_right_after_signing_resends_its_proposal(own_dir, monkeypatch):
    # (b): the proposer's signer saved a proposal that was neither logged nor sent. At
    # restart it must send that very proposal, with its block (it used to log
    # `proposal_without_block` and send nothing, so the height needed another round).
    info = generate(own_dir, 4, chain_id="mem-chain", config_overrides=FAST)
    fired = crash_once_at(monkeypatch, "proposal_signed", 3)
    seen: list[Proposal] = []
    async with open_memory_network(seed=6) as net, trio.open_nursery() as nursery:
        async with net.open_transport("spy") as spy:
            proposals = await spy.subscribe(ChainTopics("mem-chain").proposals)

            async def watch():
                async for g in proposals:
                    seen.append(Proposal.decode(CompactProposal.decode(g.payload, len(g.payload)).proposal))
            nursery.start_soon(watch)
            nodes = [await start(nursery, net, n.home, n.name, Crashable) for n in info.nodes]
            await wait_for(lambda: any(r.done.is_set() for r in nodes))
            victim = next(i for i, r in enumerate(nodes) if r.done.is_set())
            signed = json.loads(Home(info.nodes[victim].home).last_sign_file.read_text())
            assert signed["step"] == 1 and signed["height"] == fired[0]
            sign_bytes = bytes.fromhex(signed["sign_bytes"])
            assert not any(p.sign_bytes("mem-chain") == sign_bytes for p in seen)  # never sent
            nodes[victim] = await start(nursery, net, info.nodes[victim].home,
                                        info.nodes[victim].name, Crashable)
            await wait_for(lambda: any(p.sign_bytes("mem-chain") == sign_bytes for p in seen))
            h = fired[0]
            await wait_for(lambda: all(r.node.chain.height >= h + 1 for r in nodes))
            assert len({r.node.chain.block(h).id() for r in nodes}) == 1
            nursery.cancel_scope.cancel()


@pytest.fixture(autouse=True)
def _no_real_faults():
    assert faults.FAULTS == faults.Faults(), "ATTRCHAIN_TEST_FAULT is set in the test run"
