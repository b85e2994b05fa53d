"""The node's composition root: builds its parts from the home, the config and the genesis,
wires each to exactly what it needs, and runs their tasks in one nursery (`run`).

CometBFT's receiveRoutine, in trio: `run_consensus` is the ONLY task that touches the
consensus driver, the chain (ledger writes) and the WAL; it reads one bounded channel of
inputs (node/consensus_api.py). Gossip receivers (node/receivers.py,
node/proposal_assembly.py, node/tx_intake.py), timers, catch-up and vote pull
(node/sync.py) and the RPC only send into it or read. The mempool is shared, but every
mempool operation is synchronous (no await inside), so in trio's single thread no task
ever sees it half-updated.

Effects of the driver run in the order given: `WalAppend(sync=True)` fsyncs before the
`Broadcast` that follows; the signer persists its last-signed record before a signature
exists outside it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import trio

from consensus.crypto import Ed25519Key
from consensus.driver import Driver
from consensus.messages import (
    Broadcast, Decide, Effect, EvidenceFound, GetValue, ProposalReceived, ScheduleTimeout, StartHeight,
    TimeoutElapsed, ValueReady, VoteReceived, WalAppend,
)
from consensus.params import TimeoutKind
from consensus.types import Commit, Proposal, Vote
from consensus.wal import encode_record
from node import core, faults
from node.admission import Admission
from node.block_cache import BlockCache, tx_finder
from node.chain import Chain
from node.checker import LedgerChecker
from node.config import Config
from node.consensus_api import BlockProposal, PulledVotes, SyncedBlocks, VerifiedVote
from node.durable import Wal
from node.evidence_pool import EvidencePool
from node.home import Home
from node.light.serve import register_light_handlers
from node.logs import get_logger, log_event
from node.mempool import Mempool
from node.metrics import NodeMetrics
from node.proposal_assembly import ProposalAssembly
from node.proposer import BlockBuilder
from node.pruning import Pruner
from node.receivers import run_evidence_receiver, run_peer_watch, run_vote_receiver
from node.rpc import make_app, serve_rpc
from node.rpc.rpc_backend import NodeRpc
from node.sig_pool import auto_threads
from node.snapshots import Snapshotter, register_snapshot_handlers
from node.sync import CatchUp, CatchupWanted
from node.sync_serve import VoteCache, register_handlers
from node.tx_intake import TxIntake
from node.rpc.tx_waiters import TxWaiters
from p2p.ids import ChainTopics
from p2p.messages import CompactProposal, EvidenceMessage, VoteMessage
from p2p.transport import PeerId, Transport
from state.block import Block
from state.errors import BlockError
from state.genesis import Genesis

log = get_logger("attrchain.node")

INPUT_BUFFER = 4096


# ---- the consensus task's own inputs (others': node/consensus_api.py) ----
@dataclass(frozen=True)
class StartNextHeight:
    after_height: int


@dataclass(frozen=True)
class DriverTimeout:
    timeout: Any


class Node:
    def __init__(self, home: Home, config: Config, genesis: Genesis, transport: Transport,
                 *, validator_key: Ed25519Key | None):
        self.home = home
        self.config = config
        self.genesis = genesis
        self.transport = transport
        self.validator_key = validator_key
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
        self.evidence = EvidencePool()
        self.blocks = BlockCache()  # the blocks of the height being decided
        self.txs = TxIntake(self.mempool, self.metrics)
        self.find_tx = tx_finder(self.mempool, self.blocks)
        self.catchup_wanted = CatchupWanted()
        self.peer_heights: dict[PeerId, int] = {}  # catch-up writes, the peer watch forgets, RPC reads
        # the consensus task's state (it alone writes it; others read it as a ConsensusView)
        self.inputs, self._inputs_rx = trio.open_memory_channel[Any](INPUT_BUFFER)
        self.current_round = 0
        self._round_started = time.monotonic()
        self.wal = Wal(home.wal_file)
        self.core: core.Core | None = None     # recovery and the WAL input log
        self.driver: Driver | None = None      # the consensus driver, fed the core's own inputs
        self._timers: trio.Nursery | None = None  # run_consensus's own
        self.pending_decision: tuple[int, bytes, Commit] | None = None
        self.early_proposals: list[BlockProposal] = []
        self.builder = None if validator_key is None else BlockBuilder(
            self.chain, self.mempool, self.evidence, validator_key.address, config.mempool)
        consensus = self  # the ConsensusView the other parts read
        self.admission = Admission(self.chain, consensus, self.catchup_wanted,
                                   core.params_from_config(config).max_round_lead, self.mempool.checker.verify)
        self.proposals = ProposalAssembly(transport, self.topics, self.admission, self.find_tx,
                                          self.metrics, self.inputs.send)
        self.catchup = CatchUp(transport, self.topics, self.chain, consensus, self.admission,
                               self.inputs.send, self.peer_heights, self.catchup_wanted)

    def round_age(self) -> float:
        return time.monotonic() - self._round_started

    # ------------------------------------------------------------------ the consensus task
    async def run_consensus(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """The one task that owns the driver, the chain and the WAL."""
        self.core = core.Core(self)
        self.driver = self.core.driver
        # the timers are this task's children: they end with it, and nothing else starts them
        async with trio.open_nursery() as timers:
            self._timers = timers
            task_status.started()
            effects = self.core.recover(self.wal.records)
            await self._run_effects(effects)
            if self.driver.state is None:  # recovery finished a decided height: go on
                await self._start_height()
            self._set_round(self.core.round)
            async for inp in self._inputs_rx:
                try:
                    await self._handle(inp)
                except BlockError as e:
                    log_event(log, logging.WARNING, "block_rejected", reason=e.reason, error=e.message)

    async def _handle(self, inp: Any) -> None:
        d = self.driver
        assert d is not None
        match inp:
            case VerifiedVote(vote=vote, raw=raw):
                self.vote_cache.add(vote.height, vote.round, raw)
                await self._run_effects(d.apply(VoteReceived(vote)))
            case BlockProposal():
                await self._on_block_proposal(inp)
            case DriverTimeout(timeout=timeout):
                await self._run_effects(d.apply(TimeoutElapsed(timeout)))
            case StartNextHeight(after_height=after_height):
                if after_height == self.chain.height:
                    await self._start_height()
            case SyncedBlocks():
                await self._apply_synced(inp)
            case PulledVotes(votes=votes):  # verified by the puller (node/sync.py)
                for v, raw in votes:
                    self.vote_cache.add(v.height, v.round, raw)
                    await self._run_effects(d.apply(VoteReceived(v)))
            case _:
                log_event(log, logging.ERROR, "unknown_input", type=type(inp).__name__)
        self._set_round(self.core.round)

    async def _start_height(self) -> None:
        h = self.chain.height + 1
        if self.driver.height >= h:
            return  # already started (a commit timeout and a catch-up can both ask)
        if self.driver.height == h - 1:
            # precommits that arrived during the commit timeout join the seen commit that
            # our next proposal carries as its last_commit (fees, downtime accounting)
            final = self.driver.final_commit()
            if final is not None:
                self.chain.extend_seen_commit(final)
        self.blocks.keep_height(h)  # proposals for h may arrive during the commit timeout
        self.pending_decision = None
        self._set_round(0, force=True)
        await self._run_effects(self.driver.apply(StartHeight(h, self.chain.validator_set(h))))
        early, self.early_proposals = self.early_proposals, []
        for bp in early:
            if bp.proposal.height == h:
                await self._on_block_proposal(bp)

    def _set_round(self, r: int, force: bool = False) -> None:
        if r != self.current_round or force:
            self._round_started = time.monotonic()
        self.current_round = r
        self.metrics.round.set(r)

    async def _on_block_proposal(self, bp: BlockProposal) -> None:
        p, block = bp.proposal, bp.block
        if p.height == self.chain.height + 2 and len(self.early_proposals) < 16:
            # the next height's proposal, arrived while we finish this one: replayed at
            # StartHeight (otherwise a node one block behind never gets a proposal in time)
            self.early_proposals.append(bp)
            return
        if p.height != self.chain.height + 1:
            return
        self.blocks.remember(block)
        try:
            self.chain.execute(block)
            valid = True
        except BlockError as e:
            log_event(log, logging.WARNING, "invalid_proposal", height=p.height, round=p.round,
                      reason=e.reason, error=e.message)
            valid = False
        except Exception as e:  # noqa: BLE001 -- a crafted block must not crash every node
            log_event(log, logging.ERROR, "proposal_execution_error", height=p.height, round=p.round,
                      error=f"{type(e).__name__}: {e}")
            valid = False
        await self._run_effects(self.driver.apply(ProposalReceived(p, valid)))
        if self.pending_decision and self.pending_decision[1] == p.value_id and valid:
            await self._finish_decision()

    # ------------------------------------------------------------------ effects
    async def _run_effects(self, effects: list) -> None:
        queue = list(effects)
        while queue:
            e = queue.pop(0)
            more = await self._run_effect(e)
            if more:
                queue[0:0] = more

    async def _run_effect(self, e: Effect) -> list:
        """Run one of the driver's effects; returns the driver's effects it led to."""
        match e:
            case WalAppend(record=record, sync=sync):
                self.wal.append(encode_record(record), sync=sync)
            case Broadcast(message=message):
                await self._broadcast(message)
            case ScheduleTimeout(timeout=timeout, duration_ms=duration_ms):
                self._schedule(timeout, duration_ms)
            case GetValue(height=height, round=round):
                return self._get_value(height, round)
            case Decide(height=height, value_id=value_id, commit=commit):
                self.pending_decision = (height, value_id, commit)
                await self._finish_decision()
            case EvidenceFound(evidence=evidence):
                log_event(log, logging.WARNING, "equivocation", validator=evidence.validator,
                          height=evidence.height)
                raw = evidence.encode()
                if self.evidence.add(raw):
                    try:
                        await self.transport.publish(self.topics.evidence, EvidenceMessage(raw).encode())
                    except Exception as err:  # never let gossip stop consensus
                        log_event(log, logging.WARNING, "publish_failed", error=str(err))
            case _:
                raise TypeError(f"unknown effect {e!r}")
        return []

    def _schedule(self, timeout: Any, duration_ms: int) -> None:
        async def fire() -> None:
            await trio.sleep(duration_ms / 1000)
            if timeout.kind == TimeoutKind.COMMIT:
                await self.inputs.send(StartNextHeight(timeout.height))
            else:
                await self.inputs.send(DriverTimeout(timeout))
        assert self._timers is not None
        self._timers.start_soon(fire)

    def _get_value(self, height: int, round: int) -> list:
        """Proposer: the block for (height, round), node/proposer.py."""
        block = self.builder.build()
        self.blocks.remember(block)
        log_event(log, logging.DEBUG, "proposing", height=height, round=round, txs=len(block.txs))
        return self.driver.apply(ValueReady(height, round, block.id()))

    async def _broadcast(self, message: Proposal | Vote) -> None:
        try:
            if isinstance(message, Vote):
                raw = message.encode()
                self.vote_cache.add(message.height, message.round, raw)
                await self.transport.publish(self.topics.votes, VoteMessage(raw).encode())
                if faults.FAULTS.any:  # test-only (node/faults.py): equivocate on purpose
                    twin = faults.conflicting_vote(message, self.validator_key, self.chain_id)
                    if twin is not None:
                        self.vote_cache.add(twin.height, twin.round, twin.encode())
                        await self.transport.publish(self.topics.votes, VoteMessage(twin.encode()).encode())
            else:
                block = self.blocks.get(message.value_id)
                if block is None:
                    log_event(log, logging.ERROR, "proposal_without_block", height=message.height)
                    return
                from state.tx import tx_id
                await self.txs.flush_gossip()  # our txs first: peers hold them when it arrives
                cp = CompactProposal(message.encode(), block.header.encode(),
                                     tuple(tx_id(t) for t in block.txs), tuple(block.evidence),
                                     None if block.last_commit is None else block.last_commit.encode())
                await self.transport.publish(self.topics.proposals, cp.encode())
        except Exception as e:  # a full queue or an over-size message must not stop consensus
            self.metrics.gossip_drops.labels("publish_failed").inc()
            log_event(log, logging.WARNING, "publish_failed", error=str(e))

    async def _finish_decision(self) -> None:
        assert self.pending_decision is not None
        height, value_id, commit = self.pending_decision
        if height != self.chain.height + 1:
            self.pending_decision = None
            return
        block = self.blocks.get(value_id)
        if block is None:
            # decided without the block (its proposal was lost): catch-up will fetch it
            log_event(log, logging.INFO, "decided_without_block", height=height)
            self.catchup_wanted.set()
            return
        self.pending_decision = None
        self.core.input_log.make_durable(value_id)  # before the seen commit names it
        result = self.chain.commit_block(block, commit)
        self._after_commit(block, result)

    def _after_commit(self, block: Block, result: Any) -> None:
        tx_ids = [r.tx_id for r in result.tx_results]
        self.evidence.remove_included(block.evidence)
        self.wal.truncate()
        self.snapshotter.after_commit()
        self.pruner.after_commit()
        self.mempool.update(tx_ids)
        self.waiters.committed(tx_ids)
        self.vote_cache.prune(block.height)
        self.metrics.block_committed(block.height, len(block.txs))
        self.txs.count_mempool()
        log_event(log, logging.INFO, "committed", height=block.height, txs=len(block.txs),
                  app_hash=self.chain.app_hash.hex(), round=self.current_round)

    async def _apply_synced(self, sb: SyncedBlocks) -> None:
        applied = 0
        for raw_block, raw_commit in sb.blocks:
            try:
                block = Block.decode(raw_block)
                commit = Commit.decode(raw_commit)
            except ValueError as e:
                self.transport.penalise(sb.peer, "bad_block")
                log_event(log, logging.WARNING, "synced_block_malformed", peer=sb.peer, error=str(e))
                return
            if block.height <= self.chain.height:
                continue
            if block.height != self.chain.height + 1:
                break
            try:
                result = self.chain.apply_synced(block, commit)
            except BlockError as e:
                self.transport.penalise(sb.peer, "invalid")
                log_event(log, logging.WARNING, "synced_block_invalid", peer=sb.peer,
                          height=block.height, reason=e.reason, error=e.message)
                break
            except (ValueError, TypeError, KeyError) as e:  # crafted content: refuse, stay up
                self.transport.penalise(sb.peer, "invalid")
                log_event(log, logging.ERROR, "synced_block_error", peer=sb.peer,
                          height=block.height, error=f"{type(e).__name__}: {e}")
                break
            self._after_commit(block, result)
            applied += 1
        if applied:
            await self._start_height()

    # ------------------------------------------------------------------ wiring the tasks
    def rpc(self) -> NodeRpc:
        return NodeRpc(self.chain, self.mempool, self.txs, self.waiters, self, self.transport,
                       self.peer_heights, self.metrics, self.validator_key, self.config.node.moniker)

    async def run(self, rpc_listen: str | None, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """All tasks of the node in one nursery: the consensus task, gossip receivers, tx
        gossip, peer watch, catch-up, vote pull, pruning, snapshots and (if `rpc_listen`)
        the RPC server. Runs until cancelled; `task_status.started(rpc_binds)` once all are up."""
        cfg, t, topics, m = self.config, self.transport, self.topics, self.metrics
        m.attach_transport(t.counters)
        async with trio.open_nursery() as nursery:
            register_handlers(t, topics, self.chain, self, self.find_tx, self.vote_cache)
            register_light_handlers(t, topics, self.chain, self.txs.admit)  # submit-tx, light-block, proof
            await nursery.start(self.txs.run_gossip, t, topics.txs, self.admission.check_tx,
                                cfg.mempool.gossip_batch_interval_ms / 1000)
            await nursery.start(run_vote_receiver, t, topics.votes, self.admission, m, self.inputs.send)
            await nursery.start(self.proposals.run)
            await nursery.start(run_evidence_receiver, t, topics.evidence, self.admission, self.evidence, m)
            await nursery.start(run_peer_watch, t, m, self.catchup_wanted, self.peer_heights)
            await nursery.start(self.run_consensus)
            await nursery.start(self.catchup.run)
            await nursery.start(self.catchup.run_vote_pull)
            await nursery.start(self.pruner.run_compaction)
            register_snapshot_handlers(t, topics, self.snapshotter.snapshots)
            await nursery.start(self.snapshotter.run)
            binds = None
            if rpc_listen is not None:
                app = make_app(self.rpc(), cfg.rpc.max_body_bytes, cfg.rpc.broadcast_tx_commit_timeout_ms,
                               max_batch_txs=cfg.rpc.max_batch_txs, body_timeout_ms=cfg.rpc.body_timeout_ms,
                               allowed_origins=cfg.rpc.allowed_origins)
                binds = await nursery.start(serve_rpc, app, rpc_listen)
            task_status.started(binds)

    def close(self) -> None:
        self.mempool.checker.signatures.close()
        self.wal.close()
        self.chain.close()
