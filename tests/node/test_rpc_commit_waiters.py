"""broadcast_tx_commit waiters (issue 9, item 5): callers of the same tx are all answered
when it commits, and their number is bounded."""
from dataclasses import fields

import httpx
import pytest
import trio
from nacl.signing import SigningKey

from node.keys import Keyring
from node.rpc import RpcError
from node.rpc.rpc_backend import NodeRpc
from node.rpc.tx_waiters import TooManyWaiters, TxWaiters
from state.tx import sign_tx
from testnet.network import generate
from tests.node.test_node_inprocess import FAST, make_node
from p2p.memory import open_memory_network


async def test_two_commit_calls_with_the_same_tx_are_both_answered_when_it_commits(own_dir):
    info = generate(own_dir, 1, chain_id="mem-chain", config_overrides=FAST)
    ring = Keyring(own_dir / "keyring")
    alice, bob = ring.get("alice"), ring.get("bob")
    tx = sign_tx(SigningKey(alice.seed), "mem-chain", 0, 1000, "transfer", [bob.address, 5])
    answers: list[dict] = []
    async with open_memory_network(seed=9) as net, trio.open_nursery() as nursery, \
            net.open_transport("n0") as t:
        node = make_node(info.nodes[0].home, t)
        binds = await nursery.start(node.run, "127.0.0.1:0")
        async with httpx.AsyncClient(base_url="http://" + binds[0], timeout=60) as c:
            async def commit():
                r = await c.post("/broadcast_tx_commit", params={"timeout_ms": "60000"}, json={"tx": tx.hex()})
                answers.append(r.json())
            with trio.fail_after(20):  # far below the calls' own 60 s timeout
                async with trio.open_nursery() as calls:
                    calls.start_soon(commit)
                    await trio.testing.wait_all_tasks_blocked()
                    calls.start_soon(commit)
            # a third call after the commit is answered at once from the record
            answers.append((await c.post("/broadcast_tx_commit", json={"tx": tx.hex()})).json())
        nursery.cancel_scope.cancel()
    assert len(answers) == 3
    assert all(a["committed"] and a["tx_result"]["code"] == 0 for a in answers), answers
    assert len({a["height"] for a in answers}) == 1
    assert node.waiters.events == {} and node.waiters.waiting == 0


def test_waiters_are_bounded_and_released():
    w = TxWaiters(max_waiters=2)
    with w.wait_for(b"a") as e1, w.wait_for(b"a") as e2:
        assert e1 is e2 and w.waiting == 2
        with pytest.raises(TooManyWaiters):
            with w.wait_for(b"b"):
                pass
        w.committed([b"a"])
        assert e1.is_set()
    assert w.waiting == 0 and w.events == {} and w.callers == {}


class RecordingIntake:
    """A tx intake that records what it is given."""
    def __init__(self):
        self.admitted: list[bytes] = []

    def admit(self, raw):
        self.admitted.append(raw)


async def test_too_many_waiters_is_a_503_and_the_tx_is_not_admitted():
    intake = RecordingIntake()
    unused = dict.fromkeys(f.name for f in fields(NodeRpc))  # it must refuse before reading any other part
    rpc = NodeRpc(**{**unused, "txs": intake, "waiters": TxWaiters(max_waiters=0)})
    with pytest.raises(RpcError) as e:
        await rpc.broadcast_tx_commit(b"\x01" * 10, 5.0)
    assert e.value.status == 503 and e.value.code == "too_many_waiters"
    assert intake.admitted == []
