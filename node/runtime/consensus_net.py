"""The consensus executor's Network port on the transport (consensus/executor.py).

`broadcast`: our own signed messages, published on the gossip topics (a proposal as a
compact proposal, after our pending txs). `send` and `relay`: messages peers may have seen
before (the executor's re-gossip, a re-proposal's POL votes) go as a `consensus-push`
request straight to the peer (node/runtime/consensus_push.py answers it), because gossipsub drops
a re-publish of a message it saw within 120 s. Pushes run in the background, one in flight
per peer: a slow peer costs a task, never the consensus task's time.
"""
from __future__ import annotations

import logging
import random
from typing import Awaitable, Callable

import trio

from consensus.crypto import Ed25519Key
from consensus.types import Proposal, Vote
from node.runtime import faults
from node.runtime.block_cache import BlockCache
from node.logs import get_logger, log_event
from node.runtime.metrics import NodeMetrics
from node.runtime.sync_serve import VoteCache
from p2p.ids import ChainTopics
from p2p.messages import (
    MAX_PUSHED_PROPOSALS, CompactProposal, ConsensusPush, EvidenceMessage, VoteMessage,
)
from p2p.transport import MessageTooLarge, PeerId, RequestError, Transport
from state.block import Block
from state.tx import tx_id

log = get_logger("attrchain.node")

PUSH_BUDGET = 192 * 1024  # bytes of one push (a request is at most 256 KiB)
MAX_PUSHED_VOTES = 1000
PUSH_TIMEOUT_S = 2.0


class ConsensusNetwork:
    def __init__(self, *, transport: Transport, topics: ChainTopics, chain_id: str,
                 validator_key: Ed25519Key | None, blocks: BlockCache, vote_cache: VoteCache,
                 metrics: NodeMetrics, flush_txs: Callable[[], Awaitable[None]],
                 position: Callable[[], tuple[int, int]]):
        self.transport = transport
        self.topics = topics
        self.chain_id = chain_id
        self.validator_key = validator_key  # only for the test-only equivocation fault
        self.blocks = blocks
        self.vote_cache = vote_cache
        self.metrics = metrics
        self.flush_txs = flush_txs
        self.position = position  # our (height, round): every push tells it
        self.nursery: trio.Nursery | None = None  # the consensus task's: background pushes
        self._pushing: set[PeerId] = set()  # peers with a push in flight

    async def broadcast(self, message: Proposal | Vote) -> None:
        try:
            if isinstance(message, Vote):
                await self._publish_vote(message)
                if faults.FAULTS.any:  # test-only (node/runtime/faults.py): equivocate on purpose
                    twin = faults.conflicting_vote(message, self.validator_key, self.chain_id)
                    if twin is not None:
                        await self._publish_vote(twin)
            else:
                block = self.blocks.get(message.value_id)
                if block is None:
                    log_event(log, logging.ERROR, "proposal_without_block", height=message.height)
                    return
                cp = compact(message, block)
                # our txs not yet gossiped go out first, on the same streams as the
                # proposal: peers then hold them when it arrives (no fetch)
                await self.flush_txs()
                await self.transport.publish(self.topics.proposals, cp.encode())
        except Exception as e:  # a full queue or an over-size message must not stop consensus
            self._publish_failed(e)

    async def relay(self, messages: list[Vote]) -> None:
        push = self._push_message(messages)
        for peer in self.transport.peers():
            self._push(peer, push)

    async def send(self, peer: PeerId, messages: list[Proposal | Vote], status: bool = False) -> None:
        if messages or status:
            self._push(peer, self._push_message(messages))

    def sample_peers(self, k: int) -> list[PeerId]:
        peers = self.transport.peers()
        return random.sample(peers, min(k, len(peers)))

    async def publish_evidence(self, raw: bytes) -> None:
        try:
            await self.transport.publish(self.topics.evidence, EvidenceMessage(raw).encode())
        except Exception as e:  # noqa: BLE001 -- never let gossip stop consensus
            self._publish_failed(e)

    async def _publish_vote(self, vote: Vote) -> None:
        raw = vote.encode()
        self.vote_cache.add(vote.height, vote.round, raw)
        await self.transport.publish(self.topics.votes, VoteMessage(raw).encode())

    def _push_message(self, messages: list[Proposal | Vote]) -> ConsensusPush:
        """The votes, then compact proposals while the push stays under PUSH_BUDGET."""
        votes = tuple(m.encode() for m in messages if type(m) is Vote)[:MAX_PUSHED_VOTES]
        size = sum(len(v) for v in votes)
        proposals = []
        for m in messages:
            block = self.blocks.get(m.value_id) if type(m) is Proposal else None
            if block is not None and len(proposals) < MAX_PUSHED_PROPOSALS:
                cp = compact(m, block).encode()
                if size + len(cp) <= PUSH_BUDGET:
                    proposals.append(cp)
                    size += len(cp)
        height, round = self.position()
        return ConsensusPush(height, round, tuple(proposals), votes)

    def _push(self, peer: PeerId, push: ConsensusPush) -> None:
        if peer in self._pushing or self.nursery is None:
            return  # the next period sends again
        self._pushing.add(peer)
        self.nursery.start_soon(self._push_now, peer, push.encode())

    async def _push_now(self, peer: PeerId, payload: bytes) -> None:
        try:
            await self.transport.request(peer, self.topics.protocol("consensus-push"), payload,
                                         timeout=PUSH_TIMEOUT_S)
        except (RequestError, MessageTooLarge) as e:
            log_event(log, logging.DEBUG, "push_failed", peer=peer, error=str(e))
        finally:
            self._pushing.discard(peer)

    def _publish_failed(self, e: Exception) -> None:
        self.metrics.gossip_drops.labels("publish_failed").inc()
        log_event(log, logging.WARNING, "publish_failed", error=str(e))


def compact(p: Proposal, block: Block) -> CompactProposal:
    return CompactProposal(p.encode(), block.header.encode(), tuple(tx_id(t) for t in block.txs),
                           tuple(block.evidence),
                           None if block.last_commit is None else block.last_commit.encode())
