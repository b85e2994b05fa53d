"""End to end: real node processes, real libp2p on 127.0.0.1, one testnet for the module.

Every test leaves the four validators running, so the tests share one network (starting
one costs seconds; the e2e budget is 240 s). Waits are conditions with deadlines.
"""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from node.config import load_config, save_config

from e2e_harness import Net, running_net, spawn_garbage_peer, wait_until

pytestmark = [pytest.mark.xdist_group("e2e"), pytest.mark.slow, pytest.mark.timeout(200)]


@pytest.fixture(scope="module")
def net():
    with running_net(n_validators=4, n_full=1) as n:
        yield n


def assert_same_chain(net: Net, nodes, upto: int) -> None:
    """Same block id (hence same app hash chain) at every height on every node, and the
    same app hash after the last height."""
    for h in range(1, upto + 1):
        ids = {net.block_id(n, h) for n in nodes}
        assert len(ids) == 1, f"fork at height {h}: {ids}"
    hashes = {net.app_hash_after(n, upto) for n in nodes}
    assert len(hashes) == 1


def test_four_validators_commit_txs_with_same_app_hash(net):
    v = net.validators
    accepted = [net.transfer(v[i % 4], sender, "bob", 1_000 + i)
                for i, sender in enumerate(["alice", "carol", "dave", "erin"] * 5)]
    assert all(r["code"] == 0 for r in accepted)
    res = net.transfer(v[2], "frank", "grace", 777, wait=True)
    assert res["committed"] and res["tx_result"]["code"] == 0
    h = res["height"]
    net.wait_height(v, h)
    # every accepted tx is in some block, and each is proven against its block's data hash
    for r in accepted:
        got = wait_until(lambda: net.clients["node0"].get("/tx", hash=r["hash"]), 20, "tx inclusion")
        assert got["tx_result"]["code"] == 0
        from state.simple_merkle import verify_merkle_proof
        p = got["proof"]
        assert verify_merkle_proof(bytes.fromhex(p["data_hash"]), bytes.fromhex(p["leaf"]), p["index"],
                                   p["total"], [bytes.fromhex(a) for a in p["aunts"]])
    top = min(net.height(n) for n in v)
    assert_same_chain(net, v, top)
    q = net.clients["node3"].query("account", address=_addr(net, "grace"))
    assert q["balance"] == 1_000_000_000_000 + 777
    # the answer is proven against the app hash of that height
    from state.proof import verify_proof
    assert verify_proof(bytes.fromhex(q["app_hash"]), bytes.fromhex(q["key"]),
                        bytes.fromhex(q["raw_value"]), bytes.fromhex(q["proof"]))
    assert not verify_proof(bytes.fromhex(q["app_hash"]), bytes.fromhex(q["key"]),
                            _flip_last(bytes.fromhex(q["raw_value"])), bytes.fromhex(q["proof"]))
    # ... and that app hash is the one the next header commits to
    nxt = wait_until(lambda: net.height(v[0]) > q["height"] and
                     net.clients["node0"].get("/block", height=q["height"] + 1), 20, "next block")
    assert nxt["header"]["app_hash"] == q["app_hash"]


def _flip_last(b: bytes) -> bytes:
    return b[:-1] + bytes([b[-1] ^ 1])


def _addr(net, name):
    from node.keys import encode_address
    return encode_address(net.ring.get(name).address)


def test_one_validator_killed_others_commit_then_it_catches_up_and_signs(net):
    v = net.validators
    victim = v[3]
    net.kill(victim)
    h = max(net.height(n) for n in v[:3])
    net.wait_height(v[:3], h + 3, timeout=40)
    res = net.transfer(v[0], "alice", "heidi", 5, wait=True)
    assert res["committed"]
    net.start(victim)
    target = max(net.height(n) for n in v[:3]) + 2
    net.wait_height([victim], target, timeout=40)
    addr = net.status(victim)["validator_address"]
    # it signs again: its precommit appears in a commit after it rejoined
    wait_until(lambda: addr in net.signers_of(v[0], net.height(v[0])), 40, "the restarted validator to sign")
    assert_same_chain(net, v, min(net.height(n) for n in v))


def test_two_of_four_killed_halts_without_fork_then_resumes(net):
    v = net.validators
    for n in v[2:]:
        net.kill(n)
    live = v[:2]
    # the two live validators hold half the power: no quorum, no commit. Wait until both
    # report 6 s without a commit (blocks normally come every ~0.6 s) at the same height.
    wait_until(lambda: len({net.height(n) for n in live}) == 1 and
               all(net.status(n)["since_last_commit_s"] >= 6 for n in live), 60,
               "live validators to stop committing")
    stuck = net.height(live[0])
    assert all(net.height(n) == stuck for n in live)
    assert_same_chain(net, live, stuck)
    for n in v[2:]:
        net.start(n)
    net.wait_height(v, stuck + 2, timeout=60)
    assert_same_chain(net, v, stuck + 2)


def test_full_node_joins_late_and_reaches_same_app_hash(net):
    full = net.full[0]
    # peer exchange off: its one peer stays validator 0, which does not list it
    cfg = load_config(Path(full.home) / "config" / "config.toml")
    cfg.p2p.pex = False
    save_config(Path(full.home) / "config" / "config.toml", cfg)
    net.start(full)
    top = max(net.height(n) for n in net.validators)
    net.wait_height([full], top + 1, timeout=40)
    assert net.status(full)["voting_power"] == 0 and net.status(full)["peers"] == 1
    assert_same_chain(net, [net.validators[0], full], top + 1)
    # it is in the gossip although its one peer, validator 0, does not list it: new
    # proposals and votes keep arriving by gossip, not only by catch-up
    before = p2p_metrics(full)
    wait_until(lambda: all(p2p_metrics(full)[k] > before[k] for k in ("proposals", "votes")), 30,
               "proposals and votes to reach the full node by gossip")
    # a tx submitted to the full node's RPC goes out as its own gossip and is committed
    out_before = p2p_metrics(full)["out"]
    res = net.transfer(full, "alice", "bob", 7, wait=True)
    assert res["committed"], res
    assert p2p_metrics(full)["out"] > out_before


def p2p_metrics(node) -> dict[str, float]:
    """Gossip counters from a node's /metrics: messages in by kind, messages out."""
    text = httpx.get(f"http://{node.rpc}/metrics", timeout=5).text
    out = {"proposals": 0.0, "votes": 0.0, "out": 0.0}
    for line in text.splitlines():
        for kind in ("proposals", "votes"):
            if line.startswith(f'attrchain_p2p_messages_in_by_kind_total{{kind="{kind}"}}'):
                out[kind] = float(line.split()[-1])
        if line.startswith("attrchain_p2p_messages_out_total "):
            out["out"] = float(line.split()[-1])
    return out


def test_malformed_rpc_and_garbage_peer_leave_network_running(net):
    v = net.validators
    base = "http://" + v[1].rpc
    with httpx.Client(base_url=base, timeout=5) as c:
        for r in (c.get("/broadcast_tx_sync", params={"tx": "zz"}),
                  c.post("/broadcast_tx_sync", content=b"\xff\x00{"),
                  c.get("/block", params={"height": "-5"}),
                  c.get("/tx", params={"hash": "00"})):
            assert 400 <= r.status_code < 500 and r.json()["error"]["reason"]
        r = c.get("/broadcast_tx_sync", params={"tx": "c0ffee"})
        assert r.status_code == 200 and r.json()["code"] == "malformed_encoding"
    peer = spawn_garbage_peer(v[0], net.info.chain_id, 4.0)
    try:
        h = max(net.height(n) for n in v)
        net.wait_height(v, h + 3, timeout=40)
    finally:
        out, _ = peer.communicate(timeout=30)
    assert b"garbage sent=" in out, out[-2000:]
    res = net.transfer(v[0], "bob", "alice", 9, wait=True)
    assert res["committed"]
    m = httpx.get(f"http://{v[0].rpc}/metrics").text
    assert "attrchain_gossip_drops_total" in m or "attrchain_height" in m
