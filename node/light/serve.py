"""The full node's side of the light-client protocols over libp2p: `submit-tx`,
`light-block` and `proof` (envelopes in p2p/messages.py).

node/runtime/node.py registers these next to the node's own handlers (node/runtime/sync_serve.py).
Handlers only read, except `submit-tx`, which goes through the same admission as the
RPC's `broadcast_tx_sync` (`TxIntake.admit`, node/runtime/tx_intake.py: mempool, then gossip).

`SubmitTxResponse.code` is an integer on the wire while the mempool's refusal codes are
strings: code 0 = admitted; 1 = refused, and `log` is "<refusal code>: <reason>".
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from p2p.ids import LIGHT_BLOCK, PROOF, SUBMIT_TX
from p2p.messages import (
    MAX_LOG, LightBlockRequest, LightBlockResponse, ProofRequest, ProofResponse, SubmitTxRequest,
    SubmitTxResponse,
)
from p2p.transport import PeerId, RequestError, Transport
from state.tx import tx_id as compute_tx_id

if TYPE_CHECKING:
    from node.runtime.chain import Chain
    from p2p.ids import ChainTopics

SUBMIT_REFUSED = 1


def register_light_handlers(transport: Transport, topics: "ChainTopics", chain: "Chain",
                            admit_tx: Callable[[bytes], Any]) -> None:
    """`admit_tx` raises TxRejected (the RPC's admission)."""

    def height_of(requested: int) -> int:
        h = chain.height if requested == 0 else requested
        if h < 1 or h > chain.height:
            raise RequestError("height_not_available", f"height {h}: latest is {chain.height}")
        if h < chain.earliest_block_height:
            raise RequestError("pruned", f"height {h}: earliest kept is {chain.earliest_block_height}")
        return h

    async def submit_tx(peer: PeerId, payload: bytes) -> bytes:
        from node.runtime.mempool import TxRejected
        tx = SubmitTxRequest.decode(payload, max_size=len(payload)).tx
        tid = compute_tx_id(tx)
        try:
            admit_tx(tx)
        except TxRejected as e:
            return SubmitTxResponse(SUBMIT_REFUSED, f"{e.code}: {e.reason}"[:MAX_LOG], tid).encode()
        return SubmitTxResponse(0, "", tid).encode()

    async def light_block(peer: PeerId, payload: bytes) -> bytes:
        h = height_of(LightBlockRequest.decode(payload, max_size=64).height)
        block, commit, vs = chain.block(h), chain.commit_bytes(h), chain.validator_set(h)
        if block is None or commit is None or vs is None:
            raise RequestError("not_found", f"no block, commit or validator set at {h}")
        return LightBlockResponse(block.header.encode(), commit, vs.encode()).encode()

    async def proof(peer: PeerId, payload: bytes) -> bytes:
        req = ProofRequest.decode(payload, max_size=len(payload))
        if not req.key:
            raise RequestError("bad_key", "key must not be empty")
        h = height_of(req.height)
        value, prf = chain.ledger.query(req.key, h)
        return ProofResponse(h, value, prf).encode()

    transport.set_request_handler(topics.protocol(SUBMIT_TX), submit_tx)
    transport.set_request_handler(topics.protocol(LIGHT_BLOCK), light_block)
    transport.set_request_handler(topics.protocol(PROOF), proof)
