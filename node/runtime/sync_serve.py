"""What this node answers peers that catch up or rebuild a proposal (request handlers on
the transport): status, blocks with their commits by height range, txs by id (to rebuild
compact proposals), votes of a round (lost votes). Handlers only read; they never touch
the consensus task."""
from __future__ import annotations

from typing import Callable

from node.runtime.chain import Chain
from node.runtime.consensus_api import ConsensusView
from p2p.ids import ChainTopics
from p2p.messages import (
    BlocksRequest, BlocksResponse, Status, StatusRequest, TxsRequest, TxsResponse, VotesRequest,
    VotesResponse,
)
from p2p.transport import PeerId, RequestError, Transport

MAX_RESPONSE_BYTES = 6 * 1024 * 1024


class VoteCache:
    """Signed votes seen at recent (height, round)s, to answer VotesRequest."""

    def __init__(self, keep_heights: int = 2, max_per_round: int = 1000):
        self.by_round: dict[tuple[int, int], dict[bytes, None]] = {}
        self.keep_heights = keep_heights
        self.max_per_round = max_per_round

    def add(self, height: int, round: int, vote_bytes: bytes) -> None:
        votes = self.by_round.setdefault((height, round), {})
        if len(votes) < self.max_per_round:
            votes[vote_bytes] = None

    def get(self, height: int, round: int) -> list[bytes]:
        return list(self.by_round.get((height, round), {}))

    def prune(self, committed_height: int) -> None:
        for key in [k for k in self.by_round if k[0] <= committed_height - self.keep_heights + 1]:
            del self.by_round[key]


def register_handlers(transport: Transport, topics: ChainTopics, chain: Chain, consensus: ConsensusView,
                      find_tx: Callable[[bytes], bytes | None], vote_cache: VoteCache) -> None:
    async def status(peer: PeerId, payload: bytes) -> bytes:
        StatusRequest.decode(payload, max_size=64)
        return Status(chain.height, consensus.current_round, chain.app_hash,
                      chain.earliest_block_height).encode()

    async def blocks(peer: PeerId, payload: bytes) -> bytes:
        req = BlocksRequest.decode(payload, max_size=64)
        earliest = chain.earliest_block_height
        if req.from_height < earliest:
            raise RequestError("pruned", f"blocks below {earliest} are pruned on this node")
        out: list[tuple[bytes, bytes]] = []
        size = 0
        for h in range(req.from_height, min(req.to_height, chain.height) + 1):
            block = chain.block_bytes(h)
            commit = chain.commit_bytes(h)
            if block is None or commit is None:
                break
            if out and size + len(block) + len(commit) > MAX_RESPONSE_BYTES:
                break
            out.append((block, commit))
            size += len(block) + len(commit)
        return BlocksResponse(tuple(out)).encode()

    async def txs(peer: PeerId, payload: bytes) -> bytes:
        req = TxsRequest.decode(payload, max_size=len(payload))
        found = []
        for tx_id in req.tx_ids:
            raw = find_tx(tx_id)
            if raw is not None:
                found.append(raw)
        return TxsResponse(tuple(found)).encode()

    async def votes(peer: PeerId, payload: bytes) -> bytes:
        req = VotesRequest.decode(payload, max_size=64)
        return VotesResponse(tuple(vote_cache.get(req.height, req.round))).encode()

    transport.set_request_handler(topics.protocol("status"), status)
    transport.set_request_handler(topics.protocol("blocks"), blocks)
    transport.set_request_handler(topics.protocol("txs-by-id"), txs)
    transport.set_request_handler(topics.protocol("votes-of-round"), votes)
