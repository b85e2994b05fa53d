"""The proposal receiver: a compact proposal (signed proposal, header, tx ids) vetted by
node/runtime/admission.py, its block rebuilt from txs we hold and the rest fetched from peers,
then handed to the consensus task as a `BlockProposal`."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import trio

from consensus.types import Commit
from node.runtime.admission import Admission
from node.runtime.consensus_api import BlockProposal, Submit
from node.logs import get_logger, log_event
from node.runtime.metrics import NodeMetrics
from p2p.ids import ChainTopics
from p2p.messages import CompactProposal, MessageError, TxsRequest, TxsResponse
from p2p.transport import IGNORE, PeerId, RequestError, Transport
from state.block import Block
from state.tx import tx_id

log = get_logger("attrchain.node")

TX_SOURCES = 3        # peers asked for a proposal's missing txs (its forwarder first)
FETCH_CHUNK = 5000    # tx ids per request
FETCH_TIMEOUT = 5.0


@dataclass
class ProposalAssembly:
    transport: Transport
    topics: ChainTopics
    admission: Admission
    find_tx: Callable[[bytes], bytes | None]  # the txs we hold (node/runtime/block_cache.py tx_finder)
    metrics: NodeMetrics
    submit: Submit                            # into the consensus task

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        channel = await self.transport.subscribe(self.topics.proposals, check=self.admission.check_proposal)
        task_status.started()
        async for g in channel:
            try:
                await self.receive(g.source, g.payload)
            except (MessageError, ValueError) as e:
                self.metrics.gossip_drops.labels("malformed_proposal").inc()
                self.transport.penalise(g.source, "malformed")
                log_event(log, logging.INFO, "bad_proposal", peer=g.source, error=str(e))

    async def receive(self, source: PeerId, payload: bytes) -> None:
        """One compact proposal from `source`; raises MessageError/ValueError if malformed."""
        cp = CompactProposal.decode(payload, max_size=len(payload))
        checked, verdict = self.admission.proposal_verdict(cp)
        if checked is None:
            if verdict != IGNORE:
                self.metrics.gossip_drops.labels("invalid_proposal").inc()
                self.transport.penalise(source, verdict)
            return
        p, header = checked
        txs = await self._assemble_txs(source, list(cp.tx_ids))
        if txs is None:
            self.metrics.gossip_drops.labels("proposal_txs_missing").inc()
            return
        last_commit = None if cp.last_commit is None else Commit.decode(cp.last_commit)
        await self.submit(BlockProposal(p, Block(header, txs, list(cp.evidence), last_commit)))

    async def _assemble_txs(self, source: PeerId, ids: list[bytes]) -> list[bytes] | None:
        """Fill a compact proposal's txs from what we hold; fetch the rest from its sender,
        then from up to TX_SOURCES - 1 other peers: with 7+ validators the proposal often
        arrives first from a relay that lacks the txs itself (gossip delivers it once)."""
        have: dict[bytes, bytes] = {}
        for i in ids:
            raw = self.find_tx(i)
            if raw is not None:
                have[i] = raw
        others = [p for p in self.transport.peers() if p != source][:TX_SOURCES - 1]
        for peer in [source] + others:
            missing = [i for i in ids if i not in have]
            if not missing:
                break
            await self._fetch_txs(peer, missing, have)
        if any(i not in have for i in ids):
            return None
        return [have[i] for i in ids]

    async def _fetch_txs(self, peer: PeerId, missing: list[bytes], have: dict[bytes, bytes]) -> None:
        for start in range(0, len(missing), FETCH_CHUNK):
            chunk = missing[start:start + FETCH_CHUNK]
            try:
                resp = await self.transport.request(peer, self.topics.protocol("txs-by-id"),
                                                    TxsRequest(tuple(chunk)).encode(), timeout=FETCH_TIMEOUT)
                got = TxsResponse.decode(resp, max_size=len(resp)).txs
            except (RequestError, MessageError, ValueError) as e:
                log_event(log, logging.INFO, "txs_fetch_failed", peer=peer, error=str(e))
                return
            for raw in got:
                have[tx_id(raw)] = raw
        log_event(log, logging.DEBUG, "fetched_missing_txs", peer=peer, count=len(missing))
