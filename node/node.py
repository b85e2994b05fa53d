"""The node: one trio nursery of services around one consensus task.

The consensus task (node/consensus_task.py) is the only task that touches the consensus
driver, the chain's writes and the WAL; it reads one bounded channel of inputs. Gossip
receivers, timers, catch-up, vote pulls and RPC only send into it (or read). The mempool
is shared, but every mempool operation is synchronous (no await inside), so in trio's
single thread no task ever sees it half-updated. This module wires them together.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import trio

from consensus.crypto import Ed25519Key
from consensus.types import Commit
from node.admission import Admission
from node.chain import Chain
from node.checker import LedgerChecker
from node.config import Config
from node.consensus_task import (  # noqa: F401 -- the task's inputs, re-exported for the receivers
    BlockProposal, ConsensusTask, DriverTimeout, StartNextHeight, VerifiedVote,
)
from node.durable import Wal
from node.evidence_pool import EvidencePool
from node.home import Home
from node.logs import get_logger, log_event
from node.mempool import Mempool, TxRejected
from node.metrics import NodeMetrics
from node.proposer import BlockBuilder
from node.pruning import Pruner
from node.snapshots import Snapshotter
from node.sig_pool import auto_threads
from node.sync import VoteCache
from node.tx_waiters import TxWaiters
from p2p.ids import ChainTopics
from p2p.messages import (
    CompactProposal, EvidenceMessage, MessageError, TxsRequest, TxsResponse, VoteMessage,
)
from p2p.transport import IGNORE, PeerId, RequestError, Transport
from state.block import Block
from state.genesis import Genesis

log = get_logger("attrchain.node")

TX_SOURCES = 3  # peers asked for a proposal's missing txs (its forwarder first)


class Node:
    def __init__(self, home: Home, config: Config, genesis: Genesis, transport: Transport,
                 *, validator_key: Ed25519Key | None):
        self.home = home
        self.config = config
        self.genesis = genesis
        self.transport = transport
        self.topics = ChainTopics(genesis.chain_id)
        self.chain = Chain(home.state_db, genesis, home.data_dir / "seen_commit.bin")
        self.chain_id = self.chain.chain_id
        mc = config.mempool
        threads = mc.signature_threads or auto_threads()
        self.mempool = Mempool(LedgerChecker(self.chain.ledger, threads), mc.max_txs, mc.max_bytes, mc.max_tx_bytes)
        self.chain.admitted = self.mempool.checker.decoded  # decode each tx once (bench profile)
        self.metrics = NodeMetrics()
        self.pruner = Pruner(self.chain.store, config.storage)
        self.snapshotter = Snapshotter(self.chain.store, home.data_dir / "snapshots",
                                       config.storage.snapshot_interval, config.storage.snapshot_keep)
        self.vote_cache = VoteCache()
        self.waiters = TxWaiters(config.rpc.max_commit_waiters)
        self.validator_key = validator_key
        self.catchup_wanted = trio.Event()
        self.peer_heights: dict[PeerId, int] = {}
        self.wal = Wal(home.wal_file)
        self.tx_gossip = None
        self.total_txs = 0
        self.last_commit_time: float | None = None
        self.started_at = time.monotonic()
        self.evidence = EvidencePool()
        builder = None if validator_key is None else BlockBuilder(
            self.chain, self.mempool, self.evidence, validator_key.address, config.mempool)
        self.consensus = ConsensusTask(
            chain=self.chain, wal=self.wal, config=config, last_sign_file=home.last_sign_file,
            validator_key=validator_key, transport=transport, topics=self.topics, builder=builder,
            evidence=self.evidence, vote_cache=self.vote_cache, metrics=self.metrics,
            flush_txs=self._flush_tx_gossip, want_catchup=lambda: self.catchup_wanted.set(),
            committed=self._after_commit)
        self.inputs = self.consensus.inputs  # the consensus task's one input channel
        self.run_consensus = self.consensus.run
        self.admission = Admission(self)

    # ------------------------------------------------------------------ helpers for others
    @property
    def driver(self):
        return self.consensus.driver

    @property
    def current_round(self) -> int:
        return self.consensus.current_round

    @property
    def pending_decision(self) -> tuple[int, bytes, Commit] | None:
        return self.consensus.pending_decision

    def round_age(self) -> float:
        return self.consensus.round_age()

    def find_tx_bytes(self, tx_id: bytes) -> bytes | None:
        p = self.mempool.get(tx_id) or self.mempool.waiting.get(tx_id)
        if p is not None:
            return p.raw
        return self.consensus.blocks.txs.get(tx_id)

    async def _flush_tx_gossip(self) -> None:
        if self.tx_gossip is not None:
            await self.tx_gossip.flush()

    def is_validator_at(self, height: int) -> bool:
        vs = self.chain.validator_set(height)
        return bool(self.validator_key and vs and vs.get(self.validator_key.address))

    def admit_tx(self, raw: bytes) -> Any:
        """RPC admission: mempool (signature verified here, once), then gossip."""
        try:
            p = self.mempool.add(raw, gossip=False)
        except TxRejected as e:
            self.metrics.rejected_txs.labels(e.code).inc()
            raise
        if self.tx_gossip is not None:
            self.tx_gossip.submit(raw)
        self._update_mempool_metrics()
        return p

    def _update_mempool_metrics(self) -> None:
        self.metrics.mempool_size.set(len(self.mempool))
        self.metrics.mempool_bytes.set(self.mempool.total_bytes)

    def _after_commit(self, block: Block, result: Any) -> None:
        """The services' part of a commit (the consensus task did its own)."""
        tx_ids = [r.tx_id for r in result.tx_results]
        self.snapshotter.after_commit()
        self.pruner.after_commit()
        self.mempool.update(tx_ids)
        self.waiters.committed(tx_ids)
        now = time.monotonic()
        if self.last_commit_time is not None:
            self.metrics.block_interval.set(now - self.last_commit_time)
        self.last_commit_time = now
        self.total_txs += len(block.txs)
        self.metrics.committed_txs.inc(len(block.txs))
        self.metrics.height.set(block.height)
        self._update_mempool_metrics()
        log_event(log, logging.INFO, "committed", height=block.height, txs=len(block.txs),
                  app_hash=self.chain.app_hash.hex(), round=self.current_round)

    # ------------------------------------------------------------------ gossip receivers
    # Each receiver's topic is vetted by node/admission.py before anything is relayed or
    # delivered here; the receivers re-check what may have changed since (our height).
    async def run_vote_receiver(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        channel = await self.transport.subscribe(self.topics.votes, check=self.admission.check_vote)
        task_status.started()
        async for g in channel:
            try:
                msg = VoteMessage.decode(g.payload, max_size=64 * 1024 + 16)
            except MessageError as e:
                self.metrics.gossip_drops.labels("malformed_vote").inc()
                self.transport.penalise(g.source, e.code)
                continue
            v, _ = self.admission.vote_verdict(msg.vote)
            if v is None:
                self.metrics.gossip_drops.labels("invalid_vote").inc()
                continue
            await self.inputs.send(VerifiedVote(v, msg.vote))

    async def run_proposal_receiver(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        channel = await self.transport.subscribe(self.topics.proposals, check=self.admission.check_proposal)
        task_status.started()
        async for g in channel:
            try:
                await self._receive_proposal(g.source, g.payload)
            except (MessageError, ValueError) as e:
                self.metrics.gossip_drops.labels("malformed_proposal").inc()
                self.transport.penalise(g.source, "malformed")
                log_event(log, logging.INFO, "bad_proposal", peer=g.source, error=str(e))

    async def _receive_proposal(self, source: PeerId, payload: bytes) -> None:
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
        block = Block(header, txs, list(cp.evidence), last_commit)
        await self.inputs.send(BlockProposal(p, block))

    async def _assemble_txs(self, source: PeerId, ids: list[bytes]) -> list[bytes] | None:
        """Fill a compact proposal's txs from the mempool; fetch the rest from its sender,
        then from up to TX_SOURCES - 1 other peers: with 7+ validators the proposal often
        arrives first from a relay that lacks the txs itself (gossip delivers it once)."""
        have: dict[bytes, bytes] = {}
        for i in ids:
            raw = self.find_tx_bytes(i)
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
        from state.tx import tx_id
        for start in range(0, len(missing), 5000):
            chunk = missing[start:start + 5000]
            try:
                resp = await self.transport.request(peer, self.topics.protocol("txs-by-id"),
                                                    TxsRequest(tuple(chunk)).encode(), timeout=5.0)
                got = TxsResponse.decode(resp, max_size=len(resp)).txs
            except (RequestError, MessageError, ValueError) as e:
                log_event(log, logging.INFO, "txs_fetch_failed", peer=peer, error=str(e))
                return
            for raw in got:
                have[tx_id(raw)] = raw
        log_event(log, logging.DEBUG, "fetched_missing_txs", peer=peer, count=len(missing))

    async def run_evidence_receiver(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Evidence gossiped by peers: kept (after a signature check) for our next block."""
        channel = await self.transport.subscribe(self.topics.evidence, check=self.admission.check_evidence)
        task_status.started()
        async for g in channel:
            try:
                msg = EvidenceMessage.decode(g.payload, max_size=256 * 1024 + 16)
            except MessageError as e:
                self.metrics.gossip_drops.labels("invalid_evidence").inc()
                self.transport.penalise(g.source, e.code)
                continue
            self.evidence.add(msg.evidence)

    async def run_tx_gossip(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        from p2p.tx_gossip import open_tx_gossip
        from state.tx import tx_id
        async with open_tx_gossip(self.transport, self.topics.txs, tx_id=tx_id, batched=True,
                                  check_tx=self.admission.check_tx, precheck=self.mempool.checker.precheck,
                                  flush_interval=self.config.mempool.gossip_batch_interval_ms / 1000) as g:
            self.tx_gossip = g
            task_status.started()
            async for batch in g.received:  # one channel hop per received batch (p2p docs)
                self.admit_gossip_txs([rx.tx for rx in batch])

    def admit_gossip_txs(self, txs: list[bytes]) -> None:
        """The txs of one gossip batch, vetted (signatures) by the topic's check; one
        ahead of its sender's chain waits for it (node/mempool.py)."""
        for raw in txs:
            try:
                self.mempool.add(raw, gossip=False, wait=True)
            except TxRejected as e:
                self.metrics.rejected_txs.labels(e.code).inc()
        self._update_mempool_metrics()

    async def run_peer_watch(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        events = self.transport.peer_events()
        self.metrics.peers.set(len(self.transport.peers()))
        task_status.started()
        async for ev in events:
            self.metrics.peers.set(len(self.transport.peers()))
            if ev.connected:
                self.catchup_wanted.set()
            else:
                self.peer_heights.pop(ev.peer, None)

    def close(self) -> None:
        self.mempool.checker.signatures.close()
        self.wal.close()
        self.chain.close()
