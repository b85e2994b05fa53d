"""RPC reads the explorer needs beyond CometBFT's basics: block metas, decoded block
results, the live consensus round, peers, and where one `use` payment went.

Read-only. Every answer is bounded: block lists by `MAX_BLOCKCHAIN`, a block's txs by the
chain's `max_block_txs`, a payment trace by the graph limits the ledger enforces.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import trio

from node.rpc.asset_queries import fmt
from node.keys import encode_address
from node.rpc.rpc_params import RpcError
from p2p.transport import PeerId
from state.app import process_tx
from state.asset_records import compute_asset_id, compute_contribution_id, get_require_asset
from state.attribution import compute_use_flows
from state.context import BlockInfo, Context
from state.graph import MAX_LISTED_HOLDERS
from state.revenue import TOTAL_SHARES, iter_holders
from state.errors import TxError
from state.tx import decode_tx, tx_id as compute_tx_id

if TYPE_CHECKING:
    from node.runtime.consensus_api import ConsensusView
    from node.rpc.rpc_backend import NodeRpc

CREATES_ASSET = ("create_datanet", "register_model", "register_agent")
MAX_BLOCKCHAIN = 100   # block metas per /blockchain answer (CometBFT's /blockchain has 20)
YIELD_EVERY = 64       # txs replayed or decoded between checkpoints (the RPC shares the node's thread)


def decoded_tx(raw: bytes, max_bytes: int) -> dict:
    """A tx's fields by name, or `{"kind": None, "error"}` for bytes that do not decode
    (a block may include them: they fail and pay nothing)."""
    tid = compute_tx_id(raw).hex()
    try:
        stx = decode_tx(raw, max_bytes)
    except TxError as e:
        return {"hash": tid, "kind": None, "error": e.message}
    out = {"hash": tid, "kind": stx.kind, "sender": encode_address(stx.sender),
           "nonce": stx.tx.nonce, "fee": stx.tx.fee,
           "args": {k: fmt(v) for k, v in stx.args._asdict().items()}}
    if stx.kind in CREATES_ASSET:
        out["creates"] = compute_asset_id(stx.id).hex()
    elif stx.kind == "contribute":
        out["creates"] = compute_contribution_id(stx.args.datanet, stx.args.content_hash).hex()
    return out


def blockchain(rpc: "NodeRpc", max_height: int | None, limit: int) -> dict:
    """Metas of up to `limit` blocks ending at `max_height` (default latest), newest first."""
    chain = rpc.chain
    top = rpc.checked_height(max_height)
    limit = max(1, min(limit, MAX_BLOCKCHAIN))
    metas = []
    for h in range(top, max(0, top - limit), -1):
        b = chain.block(h)
        if b is None:
            break
        metas.append({"height": h, "block_id": b.id().hex(), "time_ms": b.header.time_ms,
                      "num_txs": len(b.txs), "proposer": b.header.proposer.hex()})
    return {"last_height": chain.height, "blocks": metas}


async def block_results(rpc: "NodeRpc", height: int | None) -> dict:
    """A block's txs decoded, each with its result (code 0 = executed)."""
    b = rpc.committed_block(height)
    chain = rpc.chain
    max_bytes = chain.ledger.params.max_tx_bytes
    txs = []
    for i, raw in enumerate(b.txs):
        if i % YIELD_EVERY == YIELD_EVERY - 1:
            await trio.sleep(0)
        d = decoded_tx(raw, max_bytes)
        rec = chain.tx_record(bytes.fromhex(d["hash"]))
        code, log = (rec[2], rec[3]) if rec is not None and rec[:2] == (b.height, i) else (None, "")
        txs.append({"index": i, **d, "result": {"code": code, "log": log}})
    return {"height": b.height, "block_id": b.id().hex(), "time_ms": b.header.time_ms, "txs": txs}


def _vote_json(v) -> str | None:
    """What a validator voted: the value id (hex), "nil", or None (no vote seen)."""
    if v is None:
        return None
    return "nil" if v.value_id is None else v.value_id.hex()


def consensus_state(consensus: "ConsensusView") -> dict:
    """The height and round this node is deciding, and each validator's prevote and
    precommit in that round as this node has seen them (CometBFT's /consensus_state)."""
    rv = consensus.round_view()
    if rv is None:
        raise RpcError(404, "not_found", "consensus has not started")
    validators = [{"address": v.address.hex(), "voting_power": v.voting_power,
                   "prevote": _vote_json(v.prevote), "precommit": _vote_json(v.precommit)}
                  for v in rv.validators]
    return {"height": rv.height, "round": rv.round, "step": rv.step, "proposer": rv.proposer.hex(),
            "total_power": rv.total_power, "prevote_power": rv.prevote_power,
            "precommit_power": rv.precommit_power,
            "round_age_s": round(consensus.round_age(), 1), "validators": validators}


def net_info(peer_ids: list[PeerId], heights: Mapping[PeerId, int]) -> dict:
    peers = [{"node_id": str(p), "height": heights.get(p)} for p in peer_ids]
    return {"n_peers": len(peers), "peers": peers}


async def trace_use(ledger, block, index: int) -> tuple[Context, int, int, list]:
    """(the state it ran on, price, protocol fee, flows) of the `use` tx at `index` of committed `block`: the
    ledger's own attribution code (`compute_use_flows`) run on the state that tx ran on,
    i.e. the state after the previous block plus the txs before it in its block, replayed
    in memory (nothing is written). Begin-block steps (liveness, unbonding, evidence) are
    not replayed: they touch stakes and balances, never asset records, shares or pools."""
    height = block.header.height
    store = ledger.store
    info = BlockInfo(ledger.chain_id, height, block.header.time_ms, ledger.params,
                     block.header.proposer, ledger.validator_set)
    ctx = Context(lambda k: store.get_at(k, height - 1), info)
    for i, raw in enumerate(block.txs[:index]):   # an earlier tx may have moved shares or joined a pool
        process_tx(ctx, raw, True)                  # committed txs: their signatures were verified
        if i % YIELD_EVERY == YIELD_EVERY - 1:
            await trio.sleep(0)      # a block holds up to max_block_txs: let consensus run between chunks
    asset = decode_tx(block.txs[index], ledger.params.max_tx_bytes).args.asset
    price = get_require_asset(ctx, asset).price
    fee, flows = compute_use_flows(ctx, asset, price)
    return ctx, price, fee, flows


async def use_flows(rpc: "NodeRpc", tx_hash: bytes) -> dict:
    """Where the payment of a committed `use` tx went: every amount that stopped at a
    holder or a contributor pool, with the path from the asset used down to that stop."""
    chain = rpc.chain
    rec = chain.tx_record(tx_hash)
    if rec is None:
        raise RpcError(404, "not_found", f"no committed tx {tx_hash.hex()}")
    height, index, code, log = rec
    block = chain.block(height)
    stx = decode_tx(block.txs[index], chain.ledger.params.max_tx_bytes)
    if stx.kind != "use":
        raise RpcError(400, "not_a_use", f"tx {tx_hash.hex()} is a {stx.kind}, not a use")
    if code != 0:
        raise RpcError(400, "failed_tx", f"this use failed ({log}): it paid nothing")
    ctx, price, fee, flows = await trace_use(chain.ledger, block, index)
    return {"hash": tx_hash.hex(), "height": height, "index": index,
            "asset": stx.args.asset.hex(), "payer": encode_address(stx.sender),
            "price": price, "protocol_fee": fee,
            "flows": [_flow_json(ctx, f) for f in flows]}


def _flow_json(ctx: Context, f) -> dict:
    """A flow stops at a datanet's contributor pool or at an asset's holders, who accrue it
    pro rata to their shares (state/revenue.py: exact, a holder's fraction of a uopen
    carries over in its position); the split shown is over the largest holders."""
    out = {"path": [a.hex() for a in f.path], "to": f.to, "recipient": f.recipient.hex(), "amount": f.amount}
    if f.to == "holders":
        out["holders"] = [{"address": encode_address(a), "shares": n, "amount": f.amount * n // TOTAL_SHARES}
                          for a, n in iter_holders(ctx, f.recipient, MAX_LISTED_HOLDERS)]
    return out
