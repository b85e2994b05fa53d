"""Nodes in one process over the in-memory transport: consensus, tx flow, crash/restart,
catch-up and commit verification, without sockets (fast, deterministic enough)."""
from __future__ import annotations

from contextlib import asynccontextmanager

import trio

from consensus.crypto import Ed25519Key
from consensus.types import Commit, CommitSig
from node.home import Home
from node.runtime.node import Node
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
                await self.node.run(None, task_status=task_status)
            finally:
                self.node.close()
                self.done.set()


async def start(nursery, network, home_dir, name, running=Running) -> Running:
    ctx = network.open_transport(name)
    transport = await ctx.__aenter__()
    r = running(make_node(home_dir, transport))
    r._ctx = ctx

    async def runner(task_status=trio.TASK_STATUS_IGNORED):
        try:
            await r.run(task_status=task_status)
        finally:
            with trio.CancelScope(shield=True):
                await ctx.__aexit__(None, None, None)
    await nursery.start(runner)
    return r


async def test_four_nodes_commit_same_blocks_and_a_tx_everywhere(own_dir):
    info = generate(own_dir, 4, chain_id="mem-chain", config_overrides=FAST)
    async with open_memory_network(seed=1) as net, trio.open_nursery() as nursery:
        nodes = [await start(nursery, net, n.home, n.name) for n in info.nodes]
        await wait_for(lambda: all(r.node.chain.height >= 2 for r in nodes))
        # a tx admitted at node 1 reaches the others by gossip and is committed once
        from node.keys import Keyring
        from nacl.signing import SigningKey
        ring = Keyring(own_dir / "keyring")
        alice, bob = ring.get("alice"), ring.get("bob")
        raw = sign_tx(SigningKey(alice.seed), "mem-chain", 0, 1000, "transfer", [bob.address, 42])
        p = nodes[1].node.txs.admit(raw)
        await wait_for(lambda: all(r.node.chain.tx_record(p.tx_id) is not None for r in nodes))
        h = nodes[1].node.chain.tx_record(p.tx_id)[0]
        await wait_for(lambda: all(r.node.chain.height >= h + 1 for r in nodes))
        top = min(r.node.chain.height for r in nodes)
        for height in range(1, top + 1):
            assert len({r.node.chain.block(height).id() for r in nodes}) == 1
        assert len({r.node.chain.store.app_hash_at(top) for r in nodes}) == 1
        assert all(len(r.node.mempool) == 0 for r in nodes)
        nursery.cancel_scope.cancel()


async def test_crash_restart_replays_wal_and_never_double_signs(own_dir):
    info = generate(own_dir, 4, chain_id="mem-chain", config_overrides=FAST)
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


async def test_synced_block_with_forged_commit_is_refused(own_dir):
    info = generate(own_dir, 1, chain_id="mem-chain", config_overrides=FAST)
    other = generate(own_dir / "b", 1, chain_id="mem-chain", config_overrides=FAST)
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
    fresh_home = own_dir / "fresh"
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


async def test_gossiped_evidence_is_included_and_the_offender_leaves_the_set(own_dir):
    from consensus.types import DuplicateVoteEvidence, Vote, VoteType
    from p2p.ids import ChainTopics
    from p2p.messages import EvidenceMessage
    info = generate(own_dir, 4, chain_id="mem-chain", config_overrides=FAST)
    offender = Ed25519Key(Home(info.nodes[3].home).validator_key().seed)
    async with open_memory_network(seed=4) as net, trio.open_nursery() as nursery:
        nodes = [await start(nursery, net, n.home, n.name) for n in info.nodes]
        await wait_for(lambda: all(r.node.chain.height >= 2 for r in nodes))
        votes = [Vote(VoteType.PREVOTE, 2, 0, bytes([i]) * 32, offender.address) for i in (1, 2)]
        signed = [Vote(v.type, v.height, v.round, v.value_id, v.validator,
                       offender.sign(v.sign_bytes("mem-chain"))) for v in votes]
        ev = DuplicateVoteEvidence.of(*signed).encode()
        async with net.open_transport("witness") as w:
            topic = ChainTopics("mem-chain").evidence
            await w.publish(topic, b"\x93garbage")  # undecodable: dropped, nothing breaks
            await w.publish(topic, EvidenceMessage(ev).encode())

            def included():
                c = nodes[0].node.chain
                return next((h for h in range(1, c.height + 1) if ev in c.block(h).evidence), None)
            await wait_for(lambda: included() is not None)
            h = included()
            await wait_for(lambda: nodes[0].node.chain.height >= h + 1)
            chain = nodes[0].node.chain
            assert chain.validator_set(h + 2).get(offender.address) is None
            assert chain.validator_set(h + 1).get(offender.address) is not None
            assert all(len(r.node.evidence) == 0 for r in nodes[:3])
            # the garbage was refused by the topic check, before delivery, and penalised
            assert nodes[0].node.transport.counters.penalties["malformed"] >= 1
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def served_node(own_dir, seed: int):
    """One validator with its RPC on a real socket: yields (node, httpx client, keyring)."""
    import httpx
    from node.keys import Keyring
    info = generate(own_dir, 1, chain_id="mem-chain", config_overrides=FAST)
    async with open_memory_network(seed=seed) as net, trio.open_nursery() as nursery, \
            net.open_transport("n0") as t:
        node = make_node(info.nodes[0].home, t)
        try:
            binds = await nursery.start(node.run, "127.0.0.1:0")
            async with httpx.AsyncClient(base_url="http://" + binds[0], timeout=10) as c:
                yield node, c, Keyring(own_dir / "keyring")
            nursery.cancel_scope.cancel()
        finally:
            node.close()


async def test_rpc_served_by_a_node(own_dir):
    from nacl.signing import SigningKey
    from node.keys import encode_address
    from state.asset_records import compute_asset_id
    from state.proof import verify_proof
    async with served_node(own_dir, 5) as (node, c, ring):
        alice, bob = ring.get("alice"), ring.get("bob")
        tx = sign_tx(SigningKey(alice.seed), "mem-chain", 0, 1000, "create_datanet",
                     ["notes", "ipfs://x", 500_000, 1_000_000, [bob.address]])
        r = (await c.post("/broadcast_tx_commit", json={"tx": tx.hex()})).json()
        assert r["committed"] and r["tx_result"]["code"] == 0, r
        h = r["height"]
        again = (await c.post("/broadcast_tx_sync", json={"tx": tx.hex()})).json()
        assert again["code"] in ("stale_nonce", "nonce_too_low")
        got = (await c.get("/tx", params={"hash": r["hash"]})).json()
        assert got["height"] == h and bytes.fromhex(got["tx"]) == tx
        blk = (await c.get("/block", params={"height": h})).json()
        assert blk["header"]["data_hash"] == got["proof"]["data_hash"]
        cm = (await c.get("/commit", params={"height": h})).json()
        assert cm["commit"]["block_id"] == blk["block_id"]
        vs = (await c.get("/validators", params={"height": h})).json()
        assert vs["total_power"] == 100 and len(vs["validators"]) == 1
        datanet = compute_asset_id(bytes.fromhex(r["hash"]))
        a = (await c.get("/query/asset", params={"id": datanet.hex(), "height": h})).json()
        assert a["asset"]["kind"] == "datanet" and a["asset"]["creator"] == encode_address(alice.address)
        p = a["proofs"][0]
        assert verify_proof(bytes.fromhex(a["app_hash"]), bytes.fromhex(p["key"]),
                            bytes.fromhex(p["value"]), bytes.fromhex(p["proof"]))
        up = (await c.get("/query/upstream", params={"id": datanet.hex()})).json()
        assert up["graph"]["kind"] == "datanet" and up["graph"]["children"] == []
        down = (await c.get("/query/downstream", params={"id": datanet.hex()})).json()
        assert down["truncated"] is False
        e = (await c.get("/query/earnings", params={"address": encode_address(bob.address)})).json()
        assert e["total"] == 0 and e["earnings"] == []
        missing = await c.get("/query/asset", params={"id": "11" * 32})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_asset"
        future = await c.get("/block", params={"height": "999999"})
        assert future.status_code == 404
        st = (await c.get("/status")).json()
        assert st["height"] >= h and st["voting_power"] == 100 and st["chain_id"] == "mem-chain"
        m = (await c.get("/metrics")).text
        assert "attrchain_committed_txs_total 1.0" in m and "attrchain_rejected_txs_total" in m


async def test_signatures_verified_at_admission_are_not_verified_again_in_the_block(own_dir, monkeypatch):
    from nacl.signing import SigningKey
    import state.app
    from node.keys import Keyring
    calls = []
    real = state.app.verify_signature
    monkeypatch.setattr(state.app, "verify_signature", lambda stx: (calls.append(stx.id), real(stx))[1])
    info = generate(own_dir, 1, chain_id="mem-chain", config_overrides=FAST)
    ring = Keyring(own_dir / "keyring")
    alice, bob = ring.get("alice"), ring.get("bob")
    async with open_memory_network(seed=6) as net, trio.open_nursery() as nursery:
        r = await start(nursery, net, info.nodes[0].home, "n0")
        ids = [r.node.txs.admit(sign_tx(SigningKey(alice.seed), "mem-chain", n, 1000, "transfer",
                                       [bob.address, 1 + n])).tx_id for n in range(20)]
        await wait_for(lambda: all(r.node.chain.tx_record(i) is not None for i in ids))
        assert all(r.node.chain.tx_record(i)[2] == 0 for i in ids)
        assert not set(calls) & set(ids)  # executed without a second signature check
        nursery.cancel_scope.cancel()
