"""The node's answers to RPC requests (node/rpc/rpc.py parses, this reads the node's parts).

Reads only: the chain's committed state and records, the mempool, where the consensus task
stands. Admission goes through `TxIntake.admit` (node/runtime/tx_intake.py), which is synchronous,
so a request never interleaves with a commit.
Queries return the value with its Merkle proof against the app hash of the state after
the requested height (that app hash is in header height+1, CometBFT's convention).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import trio

from consensus.crypto import Ed25519Key
from node.rpc import asset_queries, explorer_queries
from node.runtime.chain import Chain
from node.runtime.consensus_api import ConsensusView
from node.keys import encode_address
from node.runtime.mempool import Mempool, TxRejected
from node.runtime.metrics import NodeMetrics
from node.rpc.rpc_params import RpcError
from node.rpc.rpc_params import address_param, hex_param, key_param
from node.runtime.tx_intake import TxIntake
from node.rpc.tx_waiters import TooManyWaiters, TxWaiters
from p2p.transport import PeerId, Transport
from state import proof_keys
from state.block import Block
from state.codec import decode_value
from state.simple_merkle import merkle_proof
from state.tx import tx_id as compute_tx_id

POA_QUERIES = ("attestation", "attributor", "challenge")
YIELD_EVERY_READS = 64


def _hex(b: bytes | None) -> str | None:
    return None if b is None else b.hex()


def header_json(h) -> dict:
    return {"chain_id": h.chain_id, "height": h.height, "time_ms": h.time_ms,
            "last_block_id": h.last_block_id.hex(), "last_commit_hash": h.last_commit_hash.hex(),
            "data_hash": h.data_hash.hex(), "evidence_hash": h.evidence_hash.hex(),
            "validators_hash": h.validators_hash.hex(),
            "next_validators_hash": h.next_validators_hash.hex(),
            "app_hash": h.app_hash.hex(), "proposer": h.proposer.hex()}


def commit_json(c) -> dict | None:
    if c is None:
        return None
    return {"height": c.height, "round": c.round, "block_id": c.value_id.hex(),
            "signatures": [{"validator": s.validator.hex(), "signature": s.signature.hex()}
                           for s in c.signatures]}


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(_jsonable(k)): _jsonable(x) for k, x in v.items()}
    return v


@dataclass
class NodeRpc:
    chain: Chain
    mempool: Mempool
    txs: TxIntake                       # a client's tx in
    waiters: TxWaiters                  # broadcast_tx_commit callers
    consensus: ConsensusView            # round, /consensus_state
    transport: Transport                # our peer id, the peers
    peer_heights: Mapping[PeerId, int]  # as catch-up last heard them
    metrics: NodeMetrics
    validator_key: Ed25519Key | None
    moniker: str

    def _address(self, text: str) -> bytes:
        return address_param(text)

    def _id(self, text: str) -> bytes:
        return hex_param("id", text, 32)

    def checked_height(self, height: int | None) -> int:
        top = self.chain.height
        if height is None:
            return top
        if height > top:
            raise RpcError(404, "height_not_available", f"height {height} > latest {top}")
        if height < self.chain.store.pruned_below:
            raise RpcError(410, "pruned", f"height {height} is pruned: this node keeps heights "
                                          f">= {self.chain.store.pruned_below}")
        return height

    async def status(self) -> dict:
        chain, key = self.chain, self.validator_key
        last_h, last_time, last_id = chain.last_block()
        vs = chain.validator_set(chain.height + 1)
        power = vs.power_of(key.address) if key is not None and vs is not None else 0
        return {
            "node_id": self.transport.local_peer, "moniker": self.moniker,
            "chain_id": chain.chain_id, "height": chain.height, "round": self.consensus.current_round,
            "app_hash": chain.app_hash.hex(), "latest_block_id": last_id.hex(),
            "latest_block_time_ms": last_time, "peers": len(self.transport.peers()),
            "mempool_size": len(self.mempool), "mempool_bytes": self.mempool.total_bytes,
            "total_txs": self.metrics.total_txs,
            "catching_up": any(h > chain.height + 1 for h in self.peer_heights.values()),
            "validator_address": None if key is None else key.address.hex(),
            "voting_power": power,
            "uptime_s": round(self.metrics.uptime_s(), 1),
            "since_last_commit_s": round(self.metrics.since_last_commit_s(), 1),
        }

    async def precheck(self, raws: list[bytes]) -> None:
        await self.mempool.checker.precheck_async(raws)

    async def broadcast_tx_sync(self, raw: bytes) -> dict:
        tid = compute_tx_id(raw)
        try:
            self.txs.admit(raw, known_id=tid)
        except TxRejected as e:
            return {"hash": tid.hex(), "code": e.code, "log": e.reason}
        return {"hash": tid.hex(), "code": 0, "log": ""}

    async def broadcast_tx_commit(self, raw: bytes, timeout_s: float) -> dict:
        tid = compute_tx_id(raw)
        try:
            with self.waiters.wait_for(tid) as event:  # before admission: a commit can't slip by
                check = await self.broadcast_tx_sync(raw)
                committed = self.chain.tx_record(tid) is not None
                # "duplicate": the tx is already pending (another caller sent it): wait for it too
                if check["code"] not in (0, "duplicate") and not committed:
                    return {"hash": tid.hex(), "check_tx": check, "committed": False}
                if not committed:
                    with trio.move_on_after(timeout_s):
                        await event.wait()
        except TooManyWaiters as e:
            raise RpcError(503, "too_many_waiters", f"{e}; retry later") from None
        rec = self.chain.tx_record(tid)
        if rec is None:
            raise RpcError(504, "timeout", f"tx {tid.hex()} not committed within {timeout_s:g} s "
                           "(it stays in the mempool)", {"hash": tid.hex()})
        height, index, code, log = rec
        return {"hash": tid.hex(), "check_tx": check, "committed": True, "height": height,
                "index": index, "tx_result": {"code": code, "log": log}}

    async def tx(self, tx_id: bytes) -> dict:
        rec = self.chain.tx_record(tx_id)
        if rec is None:
            raise RpcError(404, "not_found", f"no committed tx {tx_id.hex()}")
        height, index, code, log = rec
        block = self.chain.block(height)
        ids = [compute_tx_id(t) for t in block.txs]
        proof = merkle_proof(ids, index)
        return {"hash": tx_id.hex(), "height": height, "index": index,
                "tx_result": {"code": code, "log": log}, "tx": block.txs[index].hex(),
                "proof": {"data_hash": block.header.data_hash.hex(), "index": index,
                          "total": len(ids), "leaf": tx_id.hex(),
                          "aunts": [a.hex() for a in proof]}}

    def committed_block(self, height: int | None) -> Block:
        h = self.checked_height(height)
        if h < 1:
            raise RpcError(404, "not_found", "no block committed yet")
        b = self.chain.block(h)
        if b is None:
            raise RpcError(404, "not_found", f"no block at height {h}")
        return b

    async def block(self, height: int | None) -> dict:
        b = self.committed_block(height)
        return {"height": b.height, "block_id": b.id().hex(), "header": header_json(b.header),
                "txs": [t.hex() for t in b.txs], "evidence": [e.hex() for e in b.evidence],
                "last_commit": commit_json(b.last_commit), "raw": b.encode().hex()}

    async def commit(self, height: int | None) -> dict:
        b = self.committed_block(height)
        c = self.chain.commit(b.height)
        if c is None:
            raise RpcError(404, "not_found", f"no commit for height {b.height}")
        return {"height": b.height, "header": header_json(b.header), "commit": commit_json(c),
                "raw": c.encode().hex()}

    async def validators(self, height: int | None) -> dict:
        h = height if height is not None else self.chain.height + 1
        if h > self.chain.height + 2:
            raise RpcError(404, "height_not_available", f"validator set known up to {self.chain.height + 2}")
        vs = self.chain.validator_set(h)
        if vs is None:
            raise RpcError(404, "not_found", f"no validator set for height {h}")
        return {"height": h, "total_power": vs.total_power, "hash": vs.hash().hex(),
                "validators": [{"address": v.address.hex(), "pub_key": v.pub_key.hex(),
                                "voting_power": v.voting_power} for v in vs],
                "raw": vs.encode().hex()}

    # ---- what the explorer reads (node/rpc/explorer_queries.py)
    async def blockchain(self, max_height: int | None, limit: int) -> dict:
        return explorer_queries.blockchain(self, max_height, limit)

    async def block_results(self, height: int | None) -> dict:
        return await explorer_queries.block_results(self, height)

    async def consensus_state(self) -> dict:
        return explorer_queries.consensus_state(self.consensus)

    async def net_info(self) -> dict:
        return explorer_queries.net_info(self.transport.peers(), self.peer_heights)

    async def use_flows(self, tx_id: bytes) -> dict:
        return await explorer_queries.use_flows(self, tx_id)

    # ---- queries
    def _proven(self, key: bytes, height: int, decode: bool = True) -> dict:
        value, proof = self.chain.ledger.query(key, height)
        return {"height": height, "key": key.hex(),
                "app_hash": self.chain.store.app_hash_at(height).hex(),
                "value": None if value is None else (_jsonable(decode_value(value)) if decode else value.hex()),
                "raw_value": _hex(value), "proof": proof.hex()}

    async def query(self, kind: str, params: dict[str, str], height: int | None) -> dict:
        h = self.checked_height(height)
        if kind == "account":
            addr = self._address(params["address"])
            out = self._proven(proof_keys.account(addr), h)
            bal, nonce = out["value"] if out["value"] else (0, 0)
            out.update(address=encode_address(addr), balance=bal, nonce=nonce)
            return out
        if kind == "key":
            return self._proven(key_param(params["key"]), h, decode=False)
        if kind in POA_QUERIES:
            return await self._poa_query(kind, params, h)
        return self._asset_query(kind, params, h)

    async def _poa_query(self, kind: str, params: dict[str, str], h: int) -> dict:
        """Proof of Attribution (node/poa/queries.py) over the state after `h`, with a proof
        of every key the answer read, present or absent."""
        from node.rpc.asset_queries import envelope
        from node.poa import queries
        store = self.chain.store
        keys: set[bytes] = set()

        async def read(key: bytes) -> bytes | None:
            keys.add(key)
            if len(keys) % YIELD_EVERY_READS == 0:
                await trio.sleep(0)     # the RPC shares the node's thread: let consensus run
            return store.get_at(key, h)
        try:
            if kind == "attestation":
                body = await queries.use_attestations(read, hex_param("hash", params["hash"], 32))
            elif kind == "attributor":
                body = await queries.model_attributor(read, self._id(params["id"]))
            else:
                body = await queries.challenge(read, self._id(params["id"]))
        except queries.QueryRefused as e:
            raise RpcError(e.status, e.code, e.reason) from None
        return envelope(self.chain, h, body, sorted(keys))

    def _asset_query(self, kind: str, params: dict[str, str], h: int) -> dict:
        by_account = {"earnings": asset_queries.earnings, "holdings": asset_queries.holdings,
                      "orders": asset_queries.orders}
        if kind in by_account:
            return by_account[kind](self.chain, self._address(params["address"]), h)
        by_id = {"order": asset_queries.order, "book": asset_queries.book, "fills": asset_queries.fills}
        if kind in by_id:
            return by_id[kind](self.chain, self._id(params["id"]), h)
        asset_id = self._id(params["id"])
        if kind == "asset":
            return asset_queries.asset(self.chain, asset_id, h)
        return asset_queries.graph(self.chain, asset_id, h, upstream=(kind == "upstream"))
