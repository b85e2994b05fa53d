"""Nodes in one process over the in-memory transport: consensus, tx flow, crash/restart,
catch-up and commit verification, without sockets (fast, deterministic enough)."""
from __future__ import annotations

import trio

from consensus.crypto import Ed25519Key
from consensus.types import Commit, CommitSig
from node.home import Home
from node.node import Node
from node.run import run_services
from p2p.memory import open_memory_network
from state.errors import BlockError
from state.genesis import Genesis
from state.tx import sign_tx
from testnet.network import generate

FAST = {"consensus": {"timeout_propose_ms": 800, "timeout_commit_ms": 300,
                      "timeout_prevote_ms": 200, "timeout_precommit_ms": 200}}


def make_node(home_dir, transport) -> Node:
    from pathlib import Path
    home = Home(Path(home_dir))
    return Node(home, home.load_config(), Genesis.load(home.genesis_file), transport,
                validator_key=Ed25519Key(home.validator_key().seed))


async def wait_for(pred, timeout=20.0):
    with trio.fail_after(timeout):
        while not pred():
            await trio.sleep(0.02)


class Running:
    """One node's services in their own cancel scope (cancel = crash)."""

    def __init__(self, node: Node):
        self.node = node
        self.scope: trio.CancelScope | None = None
        self.done = trio.Event()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED):
        with trio.CancelScope() as self.scope:
            try:
                await run_services(self.node, None, task_status=task_status)
            finally:
                self.node.close()
                self.done.set()


async def start(nursery, network, home_dir, name) -> Running:
    ctx = network.open_transport(name)
    transport = await ctx.__aenter__()
    r = Running(make_node(home_dir, transport))
    r._ctx = ctx

    async def runner(task_status=trio.TASK_STATUS_IGNORED):
        try:
            await r.run(task_status=task_status)
        finally:
            with trio.CancelScope(shield=True):
                await ctx.__aexit__(None, None, None)
    await nursery.start(runner)
    return r


async def test_four_nodes_commit_same_blocks_and_a_tx_everywhere(tmp_path):
    info = generate(tmp_path, 4, chain_id="mem-chain", config_overrides=FAST)
    async with open_memory_network(seed=1) as net, trio.open_nursery() as nursery:
        nodes = [await start(nursery, net, n.home, n.name) for n in info.nodes]
        await wait_for(lambda: all(r.node.chain.height >= 2 for r in nodes))
        # a tx admitted at node 1 reaches the others by gossip and is committed once
        from node.keys import Keyring
        from nacl.signing import SigningKey
        ring = Keyring(tmp_path / "keyring")
        alice, bob = ring.get("alice"), ring.get("bob")
        raw = sign_tx(SigningKey(alice.seed), "mem-chain", 0, 1000, "transfer", [bob.address, 42])
        p = nodes[1].node.admit_tx(raw)
        await wait_for(lambda: all(r.node.chain.tx_record(p.tx_id) is not None for r in nodes))
        h = nodes[1].node.chain.tx_record(p.tx_id)[0]
        await wait_for(lambda: all(r.node.chain.height >= h + 1 for r in nodes))
        top = min(r.node.chain.height for r in nodes)
        for height in range(1, top + 1):
            assert len({r.node.chain.block(height).id() for r in nodes}) == 1
        assert len({r.node.chain.store.app_hash_at(top) for r in nodes}) == 1
        assert all(len(r.node.mempool) == 0 for r in nodes)
        nursery.cancel_scope.cancel()


async def test_crash_restart_replays_wal_and_never_double_signs(tmp_path):
    info = generate(tmp_path, 4, chain_id="mem-chain", config_overrides=FAST)
    signed: dict[tuple, bytes] = {}
    conflicts = []
    async with open_memory_network(seed=2) as net, trio.open_nursery() as nursery:
        # a spy records every vote on the wire and flags two different votes at one position
        async with net.open_transport("spy") as spy:
            from p2p.ids import ChainTopics
            from p2p.messages import VoteMessage
            from consensus.types import Vote
            votes = await spy.subscribe(ChainTopics("mem-chain").votes)

            async def watch():
                async for g in votes:
                    v = Vote.decode(VoteMessage.decode(g.payload, 70_000).vote)
                    key = (v.validator, v.height, v.round, v.type)
                    if key in signed and signed[key] != v.value_id:
                        conflicts.append(key)
                    signed[key] = v.value_id
            nursery.start_soon(watch)
            nodes = [await start(nursery, net, n.home, n.name) for n in info.nodes]
            victim = nodes[3]
            for _ in range(3):  # crash the same validator at three different moments
                h = victim.node.chain.height
                await wait_for(lambda: victim.node.chain.height >= h + 1)
                await trio.sleep(0.01 * (h % 7))
                victim.scope.cancel()
                await victim.done.wait()
                victim = nodes[3] = await start(nursery, net, info.nodes[3].home, info.nodes[3].name)
                others = max(r.node.chain.height for r in nodes[:3])
                await wait_for(lambda: victim.node.chain.height >= others + 1)
            addr = victim.node.validator_key.address
            top = victim.node.chain.height
            await wait_for(lambda: any(s.validator == addr for s in
                                       (nodes[0].node.chain.commit(nodes[0].node.chain.height) or Commit(1, 0, b"\0" * 32, ())).signatures)
                           and nodes[0].node.chain.height > top)
            assert conflicts == []
            nursery.cancel_scope.cancel()


async def test_synced_block_with_forged_commit_is_refused(tmp_path):
    info = generate(tmp_path, 1, chain_id="mem-chain", config_overrides=FAST)
    other = generate(tmp_path / "b", 1, chain_id="mem-chain", config_overrides=FAST)
    async with open_memory_network(seed=3) as net, trio.open_nursery() as nursery:
        r = await start(nursery, net, info.nodes[0].home, "a")
        await wait_for(lambda: r.node.chain.height >= 3)
        r.scope.cancel()
        await r.done.wait()
        nursery.cancel_scope.cancel()
    src = make_node(info.nodes[0].home, None)
    block2, commit2 = src.chain.block(2), src.chain.commit(2)
    block1, commit1 = src.chain.block(1), src.chain.commit(1)
    src.close()
    # a fresh node of the same chain applies block 1 with its real commit...
    import shutil
    fresh_home = tmp_path / "fresh"
    shutil.copytree(info.nodes[0].home, fresh_home, ignore=shutil.ignore_patterns("data"))
    (fresh_home / "data").mkdir()
    fresh = make_node(fresh_home, None)
    fresh.chain.apply_synced(block1, commit1)
    # ...but refuses block 2 with a commit signed by a key outside the validator set
    outsider = Ed25519Key(Home(other.nodes[0].home).validator_key().seed)
    from consensus.types import Vote, VoteType
    forged_vote = Vote(VoteType.PRECOMMIT, 2, 0, block2.id(), outsider.address)
    forged = Commit(2, 0, block2.id(), (CommitSig(outsider.address, outsider.sign(forged_vote.sign_bytes("mem-chain"))),))
    try:
        fresh.chain.apply_synced(block2, forged)
        raise AssertionError("forged commit accepted")
    except BlockError as e:
        assert e.reason == "invalid_commit"
    assert fresh.chain.height == 1
    # a genuine commit with one signature flipped is refused too
    bad = Commit(2, commit2.round, commit2.value_id,
                 (CommitSig(commit2.signatures[0].validator, bytes(64)),))
    try:
        fresh.chain.apply_synced(block2, bad)
        raise AssertionError("bad signature accepted")
    except BlockError as e:
        assert e.reason == "invalid_commit"
    fresh.chain.apply_synced(block2, commit2)
    assert fresh.chain.height == 2
    fresh.close()
