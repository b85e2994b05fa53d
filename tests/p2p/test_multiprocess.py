"""Real libp2p between separate OS processes on 127.0.0.1 (testnet/gossip_peer.py)."""
from __future__ import annotations

import time

import pytest

from testnet.gossip_peer import PeerProcess, free_port, ids_digest, seed_for, start_network

pytestmark = [pytest.mark.xdist_group("p2p"), pytest.mark.slow]


@pytest.fixture
def network():
    started: list[PeerProcess] = []

    def start(count: int, chain_id: str, extra: list[str] | None = None) -> list[PeerProcess]:
        nodes = start_network(count, chain_id, extra)
        started.extend(nodes)
        return nodes

    start.extra = started  # for processes a test starts by hand
    yield start
    for node in started:
        node.stop()


def wait_all(nodes, within: float, **condition):
    """Each node waits (in its own process) for the condition, `within` seconds."""
    replies = [node.call("wait", within=within, timeout=within + 30, **condition) for node in nodes]
    assert all(r["ok"] for r in replies), [(r.get("peers"), r.get("unique"), r.get("error"), str(r.get("counters"))) for r in replies]
    return replies


def test_four_nodes_deliver_20000_txs_exactly_once(network):
    nodes = network(4, "exactly-once")
    wait_all(nodes, peers=3, subscribed=3, within=20)
    per_node = 5000
    for node in nodes:
        assert node.call("submit", count=per_node, size=200, rate=4000)["ok"]
    replies = wait_all(nodes, delivered=3 * per_node, within=60)
    for node, reply in zip(nodes, replies):
        expected = {(i, j) for i in range(4) if i != node.index for j in range(per_node)}
        assert reply["delivered"] == reply["unique"] == len(expected)  # each tx once
        assert reply["digest"] == ids_digest(expected)  # and exactly the others' txs
        assert reply["counters"].get("drops.peer_queue_full", 0) == 0
        assert reply["counters"].get("drops.outbound_queue_full", 0) == 0


def test_killed_node_is_redialled_within_2s_and_catches_up(network):
    a, b, d = network(3, "restart")
    wait_all([a, b, d], peers=2, subscribed=2, within=20)
    d.kill()  # SIGKILL: no goodbye
    wait_all([a, b], absent=[d.peer_id], within=10)

    # D misses blocks and txs while it is down.
    assert a.call("seal", count=5)["ok"]
    a.call("submit", count=300, size=200)
    wait_all([b], height=5, delivered=300, within=20)

    # Restarted with the same key and config (the survivors' own redial is tested
    # in-process in test_libp2p_transport.py, with a restarted peer that dials nobody).
    restarted = PeerProcess(d.index, seed_for(d.index, "restart"), d.port, [a.addr, b.addr], "restart")
    network.extra.append(restarted)
    assert restarted.peer_id == d.peer_id  # identity from the seed survives the restart
    ready_at = restarted.ready["t"]
    # Redial deadline: 2 s from the restarted node listening.
    wait_all([a, b], peers=2, within=max(0.1, 2.0 - (time.time() - ready_at)))
    for node in (a, b):
        event = next(e for e in reversed(node.events) if e.get("peer") == d.peer_id and e["connected"])
        assert event["t"] - ready_at < 2.0
        assert node.call("status")["counters"]["reconnects"] >= 1

    # Catch-up by request/response: status, then blocks with their commits (from
    # height 1: gossipsub may already have replayed recent proposals to it).
    caught = restarted.call("catch_up", peer=b.peer_id, start=1)
    assert caught["ok"], caught
    assert caught["their_height"] == 5 and caught["fetched"] == 5
    assert caught["blocks_digest"] == a.call("status")["blocks_digest"]

    # And gossip flows to it again.
    wait_all([restarted], subscribed=2, within=10)
    before = restarted.call("status")["unique"]
    b.call("submit", start=10_000, count=200, size=200)
    reply = wait_all([restarted], delivered=before + 200, within=20)[0]
    assert reply["delivered"] == reply["unique"]


def test_misbehaving_peer_is_penalised_and_banned_while_others_keep_working(network):
    # Every kind of garbage below costs points (25 + 25 + 5 x 20 = 150); with the ban
    # threshold at 150 the last one bans the attacker, so each reason is counted once.
    a, b = network(2, "garbage", ["--ban-threshold", "150", "--max-request-size", "4096"])
    wait_all([a, b], peers=1, subscribed=1, within=20)
    attacker = PeerProcess(9, seed_for(9, "attacker"), free_port(), [], "garbage", extra=["--attacker"])
    network.extra.append(attacker)

    attack = attacker.call("attack", target=a.addr, timeout=60)
    assert attack["ok"], attack
    reply = wait_all([a], absent=[attacker.peer_id], within=10)[0]
    counters = reply["counters"]
    assert attack["sent"][0] == "oversize_request:too_large"
    for reason, count in (("too_large", 2), ("malformed", 2), ("unknown_kind", 1), ("bad_field", 1),
                          ("unexpected_kind", 1)):
        assert counters.get(f"penalties.{reason}", 0) == count, (reason, counters)
    assert counters["penalties.banned"] == 1
    assert attacker.peer_id in reply["banned"]

    # The honest pair never saw the garbage relayed and keeps gossiping.
    assert b.call("status")["counters"]["penalties_total"] == 0
    a.call("submit", count=1000, size=200)
    b.call("submit", count=1000, size=200)
    for node in (a, b):
        reply = wait_all([node], delivered=1000, within=30)[0]
        assert reply["delivered"] == reply["unique"] == 1000
