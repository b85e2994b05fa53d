"""A provider over libp2p, as a peer that is not a validator (p2p/ only, never libp2p).

Protocols used (p2p/ids.py): `status` (latest height), `submit-tx` (SubmitTxRequest ->
SubmitTxResponse), `light-block` (header + commit + validator set), `proof` (a state
value with its Merkle proof), and `blocks` (blocks with their commits, which every node
serves for catch-up). A node that does not serve `light-block` still serves `blocks`:
the header and commit come from there, and the validator set from the client's trusted
store when its hash is one the client already holds (sets rarely change).
"""
from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import AsyncIterator

from consensus.types import Commit, ValidatorSet
from node.light.errors import ProviderError
from node.light.proofs import StateProof, TxInclusionProof
from node.light.provider import AccountAnswer, SignedHeader, SubmitResult
from p2p.ids import BLOCKS, LIGHT_BLOCK, PROOF, STATUS, SUBMIT_TX, ChainTopics
from p2p.messages import (
    MAX_BLOCKS_PER_REQUEST, BlocksRequest, BlocksResponse, LightBlockRequest, LightBlockResponse,
    MessageError, ProofRequest, ProofResponse, Status, StatusRequest, SubmitTxRequest,
    SubmitTxResponse,
)
from p2p.transport import RequestError, Transport
from state import proof_keys
from state.block import Block, Header
from state.tx import tx_id as compute_tx_id

MAX_RESPONSE = 8 * 1024 * 1024


class P2PProvider:
    supports_tx_index = False   # no tx lookup protocol: inclusion is found by scanning blocks

    def __init__(self, transport: Transport, peer: str, chain_id: str, timeout: float = 10.0):
        self.transport = transport
        self.peer = peer
        self.topics = ChainTopics(chain_id)
        self.timeout = timeout
        self.name = f"libp2p:{peer}"
        self.serves_light_block: bool | None = None   # learnt on first use

    async def aclose(self) -> None:
        pass

    async def _request(self, kind: str, payload: bytes) -> bytes:
        try:
            return await self.transport.request(self.peer, self.topics.protocol(kind), payload,
                                                timeout=self.timeout)
        except RequestError as e:
            raise ProviderError(e.code, f"{kind} request to {self.peer}: {e.reason}") from None

    async def latest_height(self) -> int:
        raw = await self._request(STATUS, StatusRequest().encode())
        try:
            return Status.decode(raw, max_size=256).height
        except MessageError as e:
            raise ProviderError("bad_response", f"status: {e}") from None

    async def signed_header(self, height: int) -> SignedHeader:
        if self.serves_light_block is not False:
            try:
                raw = await self._request(LIGHT_BLOCK, LightBlockRequest(height).encode())
                lb = LightBlockResponse.decode(raw, max_size=MAX_RESPONSE)
                self.serves_light_block = True
                try:
                    return SignedHeader(Header.decode(lb.header), Commit.decode(lb.commit),
                                        ValidatorSet.decode(lb.validators))
                except ValueError as e:
                    raise ProviderError("bad_response", f"light block {height}: {e}") from None
            except ProviderError as e:
                if self.serves_light_block or e.code not in ("unreachable", "no_handler"):
                    raise
                self.serves_light_block = False   # the node lacks the handler: use blocks
        got = await self._blocks_with_commits(height, height)
        if not got:
            raise ProviderError("not_found", f"{self.peer} has no block {height}")
        block, commit = got[0]
        return SignedHeader(block.header, commit, None)

    async def _blocks_with_commits(self, start: int, end: int) -> list[tuple[Block, Commit]]:
        raw = await self._request(BLOCKS, BlocksRequest(start, end).encode())
        try:
            pairs = BlocksResponse.decode(raw, max_size=MAX_RESPONSE).blocks
            out = [(Block.decode(b), Commit.decode(c)) for b, c in pairs]
        except ValueError as e:
            raise ProviderError("bad_response", f"blocks {start}..{end}: {e}") from None
        for i, (b, _) in enumerate(out):
            if b.height != start + i:
                raise ProviderError("bad_response", f"blocks {start}..{end}: got height {b.height}")
        return out

    async def blocks(self, start: int, end: int) -> list[Block]:
        out: list[Block] = []
        h = start
        while h <= end:
            got = await self._blocks_with_commits(h, min(end, h + MAX_BLOCKS_PER_REQUEST - 1))
            if not got:
                break
            out.extend(b for b, _ in got)
            h += len(got)
        return out

    async def tx_proof(self, tx_id: bytes) -> TxInclusionProof | None:
        return None

    async def state_proof(self, key: bytes, height: int) -> StateProof:
        raw = await self._request(PROOF, ProofRequest(key, height).encode())
        try:
            p = ProofResponse.decode(raw, max_size=MAX_RESPONSE)
        except MessageError as e:
            raise ProviderError("bad_response", f"proof: {e}") from None
        if p.height != height:
            raise ProviderError("bad_response", f"proof for height {p.height}, asked {height}")
        return StateProof(height, key, p.value, p.proof, None)

    async def account(self, address: bytes, height: int) -> AccountAnswer:
        return AccountAnswer(await self.state_proof(proof_keys.account(address), height), None, None)

    async def submit(self, tx: bytes) -> SubmitResult:
        raw = await self._request(SUBMIT_TX, SubmitTxRequest(tx).encode())
        try:
            r = SubmitTxResponse.decode(raw, max_size=4096)
        except MessageError as e:
            raise ProviderError("bad_response", f"submit-tx: {e}") from None
        if r.tx_id != compute_tx_id(tx):
            raise ProviderError("bad_response", "submit-tx answered for another tx id")
        if r.code == 0:
            return SubmitResult(r.tx_id, "ok", r.log)
        code, _, reason = r.log.partition(": ")   # serve.py puts "<code>: <reason>" in log
        return SubmitResult(r.tx_id, code or str(r.code), reason or r.log)


@asynccontextmanager
async def open_p2p_provider(chain_id: str, peer_addr: str, *, identity_seed: bytes | None = None,
                            listen: str = "/ip4/127.0.0.1/tcp/0",
                            timeout: float = 10.0) -> AsyncIterator[P2PProvider]:
    """Join the network as a fresh non-validator peer and dial `peer_addr`
    (`/ip4/.../tcp/.../p2p/12D3KooW...`). No topic is subscribed: a light client
    gossips nothing and relays nothing."""
    from p2p.config import P2PConfig
    from p2p.libp2p_transport import open_libp2p_transport

    cfg = P2PConfig(chain_id=chain_id, identity_seed=identity_seed or os.urandom(32),
                    listen_addrs=(listen,))
    async with open_libp2p_transport(cfg) as transport:
        try:
            peer = await transport.connect(peer_addr, timeout=5.0)
        except RequestError as e:
            raise ProviderError("unreachable", e.reason) from None
        yield P2PProvider(transport, peer, chain_id, timeout)
