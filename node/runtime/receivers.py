"""Gossip receivers for votes and evidence, and the peer watch.

Each gossip topic is vetted by node/runtime/admission.py inside the transport before anything is
relayed or delivered here; a receiver re-checks what may have changed since (our height)
and hands the result on: a vote to the consensus task, evidence to the pool. (Proposals:
node/runtime/proposal_assembly.py; txs: node/runtime/tx_intake.py.)"""
from __future__ import annotations

from typing import Any, AsyncIterator, Callable

import trio

from node.runtime.admission import Admission
from node.runtime.consensus_api import Submit, VerifiedVote
from node.runtime.evidence_pool import EvidencePool
from node.runtime.metrics import NodeMetrics
from p2p.messages import EvidenceMessage, MessageError, VoteMessage
from p2p.transport import PeerId, Transport

MAX_VOTE_MESSAGE = 64 * 1024 + 16
MAX_EVIDENCE_MESSAGE = 256 * 1024 + 16


async def _messages(transport: Transport, topic: str, check, decode: Callable[[bytes], Any],
                    drop_reason: str, metrics: NodeMetrics, task_status) -> AsyncIterator[Any]:
    """The messages of a topic (vetted by `check` in the transport), decoded; one that does
    not decode is dropped (counted as `drop_reason`) and penalises its sender."""
    channel = await transport.subscribe(topic, check=check)
    task_status.started()
    async for g in channel:
        try:
            msg = decode(g.payload)
        except MessageError as e:
            metrics.gossip_drops.labels(drop_reason).inc()
            transport.penalise(g.source, e.code)
            continue
        yield msg


async def run_vote_receiver(transport: Transport, topic: str, admission: Admission, metrics: NodeMetrics,
                            submit: Submit, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    async for msg in _messages(transport, topic, admission.check_vote,
                               lambda b: VoteMessage.decode(b, max_size=MAX_VOTE_MESSAGE),
                               "malformed_vote", metrics, task_status):
        v, _ = admission.gossiped_vote_verdict(msg.vote)
        if v is None:
            metrics.gossip_drops.labels("invalid_vote").inc()
            continue
        await submit(VerifiedVote(v, msg.vote))


async def run_evidence_receiver(transport: Transport, topic: str, admission: Admission, pool: EvidencePool,
                                metrics: NodeMetrics, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Evidence gossiped by peers: kept (after a signature check) for our next block."""
    async for msg in _messages(transport, topic, admission.check_evidence,
                               lambda b: EvidenceMessage.decode(b, max_size=MAX_EVIDENCE_MESSAGE),
                               "invalid_evidence", metrics, task_status):
        pool.add(msg.evidence)


async def run_peer_watch(transport: Transport, metrics: NodeMetrics, catchup_wanted, peer_heights: dict[PeerId, int],
                         *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Peers come and go: a new one may be ahead (catch-up asks it), a gone one's height
    no longer counts (`peer_heights`, filled by catch-up, read by the RPC)."""
    events = transport.peer_events()
    metrics.peers.set(len(transport.peers()))
    task_status.started()
    async for ev in events:
        metrics.peers.set(len(transport.peers()))
        if ev.connected:
            catchup_wanted.set()
        else:
            peer_heights.pop(ev.peer, None)
