"""Asset, attribution-graph and earnings queries for the RPC, with Merkle proofs.

Reads go through state/graph.py over a view of the state after the requested height;
every state key the answer rests on comes back with its proof against that height's app
hash, so a light client can check the whole answer, not just its root record.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from node.keys import encode_address
from node.rpc import RpcError
from state.asset_records import asset_key, earnings_key
from state.graph import StateView, get_asset_view, get_downstream, get_earnings, get_upstream

if TYPE_CHECKING:
    from node.rpc_backend import NodeRpc


def _view(rpc: "NodeRpc", height: int) -> StateView:
    store = rpc.node.chain.store
    return StateView(lambda k: store.get_at(k, height))


def _fmt(v: Any) -> Any:
    if isinstance(v, bytes):
        return encode_address(v) if len(v) == 20 else v.hex()
    if isinstance(v, (list, tuple)):
        return [_fmt(x) for x in v]
    if isinstance(v, dict):
        return {k: _fmt(x) for k, x in v.items()}
    return v


def _proofs(rpc: "NodeRpc", keys: list[bytes], height: int) -> list[dict]:
    out = []
    for k in keys:
        value, proof = rpc.node.chain.ledger.query(k, height)
        out.append({"key": k.hex(), "value": None if value is None else value.hex(), "proof": proof.hex()})
    return out


def _envelope(rpc: "NodeRpc", height: int, body: dict, keys: list[bytes]) -> dict:
    return {"height": height, "app_hash": rpc.node.chain.store.app_hash_at(height).hex(),
            **body, "proofs": _proofs(rpc, keys, height)}


def asset(rpc: "NodeRpc", assets_mod, asset_id: bytes, height: int) -> dict:
    v = get_asset_view(_view(rpc, height), asset_id)
    if v is None:
        raise RpcError(404, "unknown_asset", f"no asset {asset_id.hex()} at height {height}")
    return _envelope(rpc, height, {"asset": _fmt(v)}, [asset_key(asset_id)])


def graph(rpc: "NodeRpc", assets_mod, asset_id: bytes, height: int, upstream: bool) -> dict:
    view = _view(rpc, height)
    if upstream:
        root, truncated = get_upstream(view, asset_id), False
    else:
        root, truncated = get_downstream(view, asset_id)
    if root is None:
        raise RpcError(404, "unknown_asset", f"no asset {asset_id.hex()} at height {height}")
    keys = sorted({asset_key(n.asset_id) for n, _ in root.walk()})
    return _envelope(rpc, height, {"direction": "upstream" if upstream else "downstream",
                                   "graph": root.to_json(), "truncated": truncated}, keys)


def earnings(rpc: "NodeRpc", assets_mod, account: bytes, height: int) -> dict:
    view = _view(rpc, height)
    rows = get_earnings(view, account)
    names = {}
    for aid, _ in rows:
        v = get_asset_view(view, aid)
        names[aid] = (v or {}).get("name", "")
    body = {"address": encode_address(account),
            "total": sum(n for _, n in rows),
            "earnings": [{"asset": a.hex(), "name": names[a], "amount": n} for a, n in rows]}
    return _envelope(rpc, height, body, [earnings_key(account, a) for a, _ in rows])
