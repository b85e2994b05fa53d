"""Asset, attribution-graph, earnings, holdings and market queries for the RPC, with
Merkle proofs.

Reads go through state/graph.py over a view of the state after the requested height;
every state key the answer rests on comes back with its proof against that height's app
hash, so a light client can check the whole answer, not just its root record.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from node.keys import encode_address
from node.rpc.rpc_params import RpcError
from state import proof_keys
from state.graph import StateView, get_asset_view, get_downstream, get_earnings, get_upstream

if TYPE_CHECKING:
    from node.runtime.chain import Chain


def _view(chain: "Chain", height: int) -> StateView:
    store = chain.store
    return StateView(lambda k: store.get_at(k, height))


class _RecordingView(StateView):
    """A view that remembers every key it read, so the answer carries a proof (of
    inclusion or absence) for each key it rests on."""
    __slots__ = ("keys",)

    def __init__(self, chain: "Chain", height: int) -> None:
        store = chain.store
        self.keys: set[bytes] = set()

        def read(k: bytes) -> bytes | None:
            self.keys.add(k)
            return store.get_at(k, height)
        super().__init__(read)


def fmt(v: Any) -> Any:
    if isinstance(v, bytes):
        return encode_address(v) if len(v) == 20 else v.hex()
    if isinstance(v, (list, tuple)):
        return [fmt(x) for x in v]
    if isinstance(v, dict):
        return {k: fmt(x) for k, x in v.items()}
    return v


def _proofs(chain: "Chain", keys: list[bytes], height: int) -> list[dict]:
    out = []
    for k in keys:
        value, proof = chain.ledger.query(k, height)
        out.append({"key": k.hex(), "value": None if value is None else value.hex(), "proof": proof.hex()})
    return out


def envelope(chain: "Chain", height: int, body: dict, keys: list[bytes]) -> dict:
    return {"height": height, "app_hash": chain.store.app_hash_at(height).hex(),
            **body, "proofs": _proofs(chain, keys, height)}


def asset(chain: "Chain", asset_id: bytes, height: int) -> dict:
    v = get_asset_view(_view(chain, height), asset_id)
    if v is None:
        raise RpcError(404, "unknown_asset", f"no asset {asset_id.hex()} at height {height}")
    return envelope(chain, height, {"asset": fmt(v)}, [proof_keys.asset(asset_id)])


def graph(chain: "Chain", asset_id: bytes, height: int, upstream: bool) -> dict:
    view = _view(chain, height)
    if upstream:
        root, truncated = get_upstream(view, asset_id), False
    else:
        root, truncated = get_downstream(view, asset_id)
    if root is None:
        raise RpcError(404, "unknown_asset", f"no asset {asset_id.hex()} at height {height}")
    keys = sorted({proof_keys.asset(n.asset_id) for n, _ in root.walk()})
    return envelope(chain, height, {"direction": "upstream" if upstream else "downstream",
                                   "graph": root.to_json(), "truncated": truncated}, keys)


def earnings(chain: "Chain", account: bytes, height: int) -> dict:
    view = _view(chain, height)
    rows = get_earnings(view, account)
    names = {}
    for aid, _ in rows:
        v = get_asset_view(view, aid)
        names[aid] = (v or {}).get("name", "")
    body = {"address": encode_address(account),
            "total": sum(n for _, n in rows),
            "earnings": [{"asset": a.hex(), "name": names[a], "amount": n} for a, n in rows]}
    return envelope(chain, height, body, [proof_keys.earnings(account, a) for a, _ in rows])


# --- holdings and the market (docs/market.md, docs/rpc.md) --------------------------------------
MAX_LISTED = 100        # holdings and open orders per answer
BOOK_DEPTH = 50         # price levels per side


def _recorded(chain: "Chain", height: int, build) -> dict:
    view = _RecordingView(chain, height)
    body = build(view)
    return envelope(chain, height, fmt(body), sorted(view.keys))


def holdings(chain: "Chain", account: bytes, height: int) -> dict:
    """Every asset the account ever held (at most MAX_LISTED): shares, locked in sell
    orders, earned (paid out), accrued (what a claim would pay now)."""
    from state.asset_records import get_earned
    from state.attribution import get_claimable
    from state.revenue import get_position, iter_held_assets

    def build(view) -> dict:
        rows = []
        for aid in iter_held_assets(view, account, MAX_LISTED):
            pos = get_position(view, aid, account)
            rec = get_asset_view(view, aid) or {}
            rows.append({"asset": aid, "kind": rec.get("kind"), "name": rec.get("name", ""),
                         "shares": pos.shares, "locked": pos.locked,
                         "earned": get_earned(view, account, aid),
                         "accrued": get_claimable(view, aid, account)})
        return {"address": encode_address(account), "holdings": rows}
    return _recorded(chain, height, build)


def _order_json(order_id: bytes, o) -> dict:
    from state import OrderStatus  # order_book calls it Status; the API tells it from asset_records' Status
    return {"id": order_id, "owner": o.owner, "asset": o.asset, "side": o.side, "price": o.price,
            "shares": o.shares, "remaining": o.remaining, "escrow": o.escrow, "expires_at": o.expires_at,
            "status": OrderStatus(o.status).name.lower(), "placed_at": o.placed_at}


def orders(chain: "Chain", account: bytes, height: int) -> dict:
    """The account's open orders (at most MAX_LISTED, by id)."""
    from state.order_book import get_order, iter_open_orders

    def build(view) -> dict:
        return {"address": encode_address(account),
                "orders": [_order_json(oid, get_order(view, oid))
                           for oid in list(iter_open_orders(view, account, MAX_LISTED))]}
    return _recorded(chain, height, build)


def order(chain: "Chain", order_id: bytes, height: int) -> dict:
    """One order by id, open or closed."""
    from state.order_book import get_order

    def build(view) -> dict:
        o = get_order(view, order_id)
        if o is None:
            raise RpcError(404, "unknown_order", f"no order {order_id.hex()} at height {height}")
        return {"order": _order_json(order_id, o)}
    return _recorded(chain, height, build)


def _require_asset(view, asset_id: bytes, height: int) -> None:
    from state.asset_records import get_asset
    if get_asset(view, asset_id) is None:
        raise RpcError(404, "unknown_asset", f"no asset {asset_id.hex()} at height {height}")


def book(chain: "Chain", asset_id: bytes, height: int) -> dict:
    """The asset's book: up to BOOK_DEPTH price levels a side, best first, and the last price."""
    from state.order_book import get_fill_head, iter_levels

    def build(view) -> dict:
        _require_asset(view, asset_id, height)
        sides = {side: [{"price": p, "shares": n, "orders": c} for p, n, c in iter_levels(view, asset_id, side,
                                                                                            BOOK_DEPTH)]
                 for side in ("buy", "sell")}
        head = get_fill_head(view, asset_id)
        return {"asset": asset_id, "bids": sides["buy"], "asks": sides["sell"],
                "best_bid": sides["buy"][0]["price"] if sides["buy"] else None,
                "best_ask": sides["sell"][0]["price"] if sides["sell"] else None,
                "last_price": head[1] if head else None}
    return _recorded(chain, height, build)


def fills(chain: "Chain", asset_id: bytes, height: int) -> dict:
    """The asset's recent fills (newest first, at most 64) and its last price."""
    from state.order_book import get_recent_fills

    def build(view) -> dict:
        _require_asset(view, asset_id, height)
        head, recent = get_recent_fills(view, asset_id)
        return {"asset": asset_id, "fills_total": head[0] if head else 0,
                "last_price": head[1] if head else None, "last_fill_height": head[2] if head else None,
                "fills": [{"height": f[0], "price": f[1], "shares": f[2], "buyer": f[3], "seller": f[4],
                           "maker_order": f[5], "taker_order": f[6]} for f in recent]}
    return _recorded(chain, height, build)
