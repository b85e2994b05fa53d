"""Holdings and market queries of the RPC (node/rpc/asset_queries.py) over a real ledger: every
answer carries a proof for each key it rests on, checked against the app hash."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from asset_helpers import ADDR, cast, place, register, submit, use  # noqa: F401
from node.rpc import asset_queries as Q
from node.keys import encode_address
from node.rpc import RpcError
from state.proof import verify_proof


def _rpc(chain):
    """The node's chain as the queries read it."""
    return SimpleNamespace(store=chain.ledger.store, ledger=chain.ledger)


def _proven(answer) -> bool:
    app_hash = bytes.fromhex(answer["app_hash"])
    return bool(answer["proofs"]) and all(
        verify_proof(app_hash, bytes.fromhex(p["key"]), None if p["value"] is None else bytes.fromhex(p["value"]),
                     bytes.fromhex(p["proof"])) for p in answer["proofs"])


def test_book_fills_orders_and_holdings_with_proofs(cast):
    m = register(cast, "eve", "model", [], price=1_000, name="triage")
    ask, _ = place(cast, "eve", m, "sell", 300, 20)
    place(cast, "eve", m, "sell", 100, 25)
    bid, _ = place(cast, "gus", m, "buy", 50, 10)
    place(cast, "ada", m, "buy", 100, 20)                    # fills 100 of eve's ask at 20
    use(cast, "uma", m, 1_000)
    rpc, h = _rpc(cast), cast.ledger.height

    book = Q.book(rpc, m, h)
    assert book["asks"] == [{"price": 20, "shares": 200, "orders": 1}, {"price": 25, "shares": 100, "orders": 1}]
    assert book["bids"] == [{"price": 10, "shares": 50, "orders": 1}]
    assert (book["best_bid"], book["best_ask"], book["last_price"]) == (10, 20, 20)
    assert _proven(book)

    fills = Q.fills(rpc, m, h)
    assert fills["last_price"] == 20 and fills["fills_total"] == 1
    assert fills["fills"][0]["shares"] == 100 and fills["fills"][0]["buyer"] == encode_address(ADDR["ada"])
    assert _proven(fills)

    orders = Q.orders(rpc, ADDR["gus"], h)
    assert [o["id"] for o in orders["orders"]] == [bid.hex()] and orders["orders"][0]["escrow"] == 500
    assert _proven(orders)
    assert Q.order(rpc, ask, h)["order"]["remaining"] == 200

    # ada holds 100 of 1,000,000 shares when 950 arrives: 0.095 -> 0 accrued; eve 949.905 -> 949
    rows = {r["name"]: r for r in Q.holdings(rpc, ADDR["eve"], h)["holdings"]}
    assert rows["triage"]["shares"] == 999_900 and rows["triage"]["locked"] == 300
    assert rows["triage"]["accrued"] == 949 and rows["triage"]["earned"] == 0
    submit(cast, "eve", "claim", m)
    after = Q.holdings(_rpc(cast), ADDR["eve"], cast.ledger.height)
    assert (after["holdings"][0]["earned"], after["holdings"][0]["accrued"]) == (949, 0) and _proven(after)


def test_book_of_unknown_asset_is_404(cast):
    with pytest.raises(RpcError) as e:
        Q.book(_rpc(cast), b"\x09" * 32, cast.ledger.height)
    assert e.value.status == 404
