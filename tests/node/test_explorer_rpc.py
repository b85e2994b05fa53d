"""The RPC the explorer reads (/blockchain, /block_results, /consensus_state, /net_info,
/use_flows) and the explorer's own files at /explorer, on a real node in process."""
from types import SimpleNamespace

import pytest
from nacl.signing import SigningKey

from consensus.round_view import RoundView, ValidatorVotes
from consensus.types import Vote, VoteType
from node.keys import encode_address
from node.rpc.explorer_queries import consensus_state
from node.rpc.rpc_params import RpcError
from state.asset_records import compute_asset_id
from state.tx import sign_tx

from tests.node.test_node_inprocess import served_node

OPEN = 1_000_000


async def test_explorer_endpoints_on_a_node(own_dir):
    async with served_node(own_dir, 7) as (node, c, ring):
        alice, bob = ring.get("alice"), ring.get("bob")
        async def commit(key, nonce, kind, fields):
            tx = sign_tx(SigningKey(key.seed), "mem-chain", nonce, 1000, kind, fields)
            r = (await c.post("/broadcast_tx_commit", json={"tx": tx.hex()})).json()
            assert r["committed"] and r["tx_result"]["code"] == 0, r
            return r
        d = await commit(alice, 0, "create_datanet", ["notes", "ipfs://x", 500_000, OPEN, [bob.address]])
        datanet = compute_asset_id(bytes.fromhex(d["hash"]))
        m = await commit(alice, 1, "register_model", ["m", "ipfs://m", 2 * OPEN, [[datanet, 400_000]]])
        model = compute_asset_id(bytes.fromhex(m["hash"]))
        u = await commit(bob, 0, "use", [model, 2 * OPEN])

        res = (await c.get("/block_results", params={"height": d["height"]})).json()
        t0 = res["txs"][d["index"]]
        assert (t0["kind"], t0["hash"], t0["creates"], t0["sender"], t0["args"]["name"], t0["result"]["code"]) == \
            ("create_datanet", d["hash"], datanet.hex(), encode_address(alice.address), "notes", 0)
        assert t0["args"]["curators"] == [encode_address(bob.address)]

        top = (await c.get("/status")).json()["height"]
        chain = (await c.get("/blockchain", params={"limit": 2, "max_height": u["height"]})).json()
        assert [b["height"] for b in chain["blocks"]] == [u["height"], u["height"] - 1]
        assert chain["blocks"][0]["num_txs"] >= 1 and chain["last_height"] >= top
        for params, status in [({"limit": "0"}, 400), ({"limit": "101"}, 400), ({"limit": "x"}, 400),
                               ({"max_height": "99999"}, 404)]:
            assert (await c.get("/blockchain", params=params)).status_code == status

        cs = (await c.get("/consensus_state")).json()
        assert cs["height"] >= top and cs["total_power"] == 100
        assert cs["step"] in ("propose", "prevote", "precommit", "commit")
        assert [v["address"] for v in cs["validators"]] == [node.validator_key.address.hex()]
        assert (await c.get("/net_info")).json() == {"n_peers": 0, "peers": []}

        flows = (await c.get("/use_flows", params={"hash": u["hash"]})).json()
        assert flows["asset"] == model.hex() and flows["payer"] == encode_address(bob.address)
        assert flows["price"] == 2 * OPEN
        assert flows["protocol_fee"] + sum(f["amount"] for f in flows["flows"]) == flows["price"]
        # each asset's holders accrued what the trace says reached them (the only use so far)
        for f in flows["flows"]:
            assert f["to"] == "holders" and f["recipient"] == f["path"][-1]
            assert [h["address"] for h in f["holders"]] == [encode_address(alice.address)]
            held = (await c.get("/query/holdings", params={"address": f["holders"][0]["address"]})).json()
            assert {x["asset"]: x["accrued"] for x in held["holdings"]}[f["recipient"]] == f["holders"][0]["amount"] \
                == f["amount"]
        assert {tuple(f["path"]) for f in flows["flows"]} == {(model.hex(),), (model.hex(), datanet.hex())}
        for params, status, code in [({"hash": d["hash"]}, 400, "not_a_use"), ({"hash": "11" * 32}, 404, "not_found"),
                                     ({"hash": "zz"}, 400, "bad_param"), ({}, 400, "missing_param")]:
            r = await c.get("/use_flows", params=params)
            assert (r.status_code, r.json()["error"]["code"]) == (status, code)

        r = await c.get("/explorer")
        assert r.status_code == 308 and r.headers["location"] == "/explorer/"
        page = await c.get("/explorer/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert '<script type="module" src="app.js">' in page.text
        js = await c.get("/explorer/merkle.js")
        assert js.headers["content-type"].startswith("text/javascript") and "verifyMerkleProof" in js.text
        for path in ("/explorer/nope.js", "/explorer/..%2Fexplorer_static.py", "/explorer/../rpc.py"):
            assert (await c.get(path)).status_code == 404, path


def test_consensus_state_reads_the_view_figures_never_a_driver():
    """/consensus_state from a view that has no driver to reach: only `round_view` and `round_age`."""
    a, b = b"\x01" * 20, b"\x02" * 20
    rv = RoundView(height=9, round=2, step="prevote", proposer=b, total_power=30, prevote_power=10,
                   precommit_power=0,
                   validators=(ValidatorVotes(a, 10, Vote(VoteType.PREVOTE, 9, 2, None, a), None),
                               ValidatorVotes(b, 20, None, None)))
    view = SimpleNamespace(round_view=lambda: rv, round_age=lambda: 1.26)
    assert consensus_state(view) == {
        "height": 9, "round": 2, "step": "prevote", "proposer": b.hex(), "total_power": 30,
        "prevote_power": 10, "precommit_power": 0, "round_age_s": 1.3,
        "validators": [{"address": a.hex(), "voting_power": 10, "prevote": "nil", "precommit": None},
                       {"address": b.hex(), "voting_power": 20, "prevote": None, "precommit": None}]}
    with pytest.raises(RpcError) as e:
        consensus_state(SimpleNamespace(round_view=lambda: None, round_age=lambda: 0.0))
    assert e.value.code == "not_found"
