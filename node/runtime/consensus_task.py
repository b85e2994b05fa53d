"""The consensus task: CometBFT's receiveRoutine, in trio.

`ConsensusTask.run` is the ONLY task that touches the consensus driver, the chain's writes
and the WAL; it reads one bounded channel of inputs (gossip receivers, timers, catch-up and
vote pulls only send into it). The driver's effects are run by the one executor shared with
the simulator (consensus/executor.py); this class is its ports on the block builder
(values) and the chain (decisions), with node/runtime/consensus_net.py its network port and
node/runtime/consensus_timers.py its timer port (trio): what the simulator's seeds
prove is what runs here.

The WAL order, one path: the driver's input log (node/runtime/core.py `WalInputLog`) writes each
input before the driver acts on it, fsyncs before every signature, and writes and fsyncs
each own message before its `Broadcast` is returned; the signer persists its last-signed
record before a signature exists outside it.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Awaitable, Callable

import trio

from consensus.crypto import Ed25519Key
from consensus.executor import Executor, GossipPacer
from consensus.messages import (
    Decide, ProposalReceived, StartHeight, TimeoutElapsed, ValueReady, VoteReceived,
)
from consensus.round_view import RoundView, round_view
from consensus.types import Commit, DuplicateVoteEvidence
from node.runtime import core
from node.runtime.block_cache import BlockCache
from node.runtime.chain import Chain
from node.config import Config
from node.runtime.consensus_api import BlockProposal, HelpPeer, PulledVotes, SyncedBlocks, VerifiedVote
from node.runtime.consensus_net import ConsensusNetwork
from node.runtime.consensus_timers import (
    GOSSIP_INTERVAL_MS, ConsensusTimers, DriverTimeout, GossipTick, StartNextHeight,
)
from node.runtime.durable import Wal
from node.runtime.evidence_pool import EvidencePool
from node.logs import get_logger, log_event
from node.runtime.metrics import NodeMetrics
from node.runtime.proposer import BlockBuilder
from node.runtime.sync_serve import VoteCache
from p2p.ids import ChainTopics
from p2p.transport import Transport
from state.block import Block
from state.errors import BlockError

log = get_logger("attrchain.node")

INPUT_BUFFER = 4096


class ConsensusTask:
    def __init__(self, *, chain: Chain, wal: Wal, config: Config, last_sign_file: Any,
                 validator_key: Ed25519Key | None, transport: Transport, topics: ChainTopics,
                 builder: BlockBuilder | None, blocks: BlockCache, evidence: EvidencePool,
                 vote_cache: VoteCache,
                 metrics: NodeMetrics, flush_txs: Callable[[], Awaitable[None]],
                 want_catchup: Callable[[], None],
                 committed: Callable[[Block, Any], None]):
        self.chain = chain
        self.wal = wal
        self.transport = transport  # penalises peers whose synced blocks are bad
        self.builder = builder
        self.evidence_pool = evidence
        self.vote_cache = vote_cache
        self.metrics = metrics
        self.want_catchup = want_catchup
        self.committed = committed
        self.inputs, self.inbox = trio.open_memory_channel[Any](INPUT_BUFFER)
        self.blocks = blocks
        self.core = core.Core(chain, wal, config, validator_key, last_sign_file, self.blocks)
        self.driver = self.core.driver
        self.net = ConsensusNetwork(
            transport=transport, topics=topics, chain_id=chain.chain_id, validator_key=validator_key,
            blocks=blocks, vote_cache=vote_cache, metrics=metrics, flush_txs=flush_txs,
            position=lambda: (self.driver.height, self.current_round))
        self.timers = ConsensusTimers(self.inputs)
        self.executor = Executor(self.driver, network=self.net, timers=self.timers, values=self,
                                 decisions=self, pacer=GossipPacer(GOSSIP_INTERVAL_MS))
        self.current_round = 0
        self._round_started = time.monotonic()
        self.pending_decision: tuple[int, bytes, Commit] | None = None
        self.early_proposals: list[BlockProposal] = []

    # ---- what the others read (node/runtime/consensus_api.py `ConsensusView`): figures, not the driver
    @property
    def height(self) -> int:
        return self.driver.height

    @property
    def awaiting_block(self) -> bool:
        return self.pending_decision is not None

    def round_age(self) -> float:
        return time.monotonic() - self._round_started

    def round_view(self) -> RoundView | None:
        return round_view(self.driver)

    # ------------------------------------------------------------------ the task
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """The one task that owns the driver, the chain and the WAL."""
        # the timers are this task's children: they end with it, and nothing else starts them
        async with trio.open_nursery() as timers:
            self.net.nursery = timers
            self.timers.start(timers)
            task_status.started()
            await self.executor.run(self.core.recover(self.wal.records))
            if self.driver.state is None:  # recovery finished a decided height: go on
                await self._start_height()
            self._set_round(self.core.round)
            async for inp in self.inbox:
                try:
                    await self._handle(inp)
                except BlockError as e:
                    log_event(log, logging.WARNING, "block_rejected", reason=e.reason, error=e.message)

    async def _handle(self, inp: Any) -> None:
        ex = self.executor
        match inp:
            case VerifiedVote(vote=vote, raw=raw):
                self.vote_cache.add(vote.height, vote.round, raw)
                await ex.apply(VoteReceived(vote))
            case BlockProposal():
                await self._on_block_proposal(inp)
            case DriverTimeout(timeout=timeout):
                await ex.apply(TimeoutElapsed(timeout))
            case StartNextHeight(after_height=after_height):
                if after_height == self.chain.height:
                    await self._start_height()
            case SyncedBlocks():
                await self._apply_synced(inp)
            case PulledVotes(votes=votes):  # verified by the puller (node/runtime/sync.py)
                for v, raw in votes:
                    self.vote_cache.add(v.height, v.round, raw)
                    await ex.apply(VoteReceived(v))
            case GossipTick():
                await ex.regossip()
            case HelpPeer(peer=peer, round=round):
                await ex.help_peer(peer, round, int(trio.current_time() * 1000))
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
        self.blocks.keep_height(h)
        self.pending_decision = None
        self._set_round(0, force=True)
        await self.executor.apply(StartHeight(h, self.chain.validator_set(h)))
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
        await self.executor.apply(ProposalReceived(p, valid))
        if self.pending_decision and self.pending_decision[1] == p.value_id and valid:
            await self._finish_decision()

    # ------------------------------------------------------------------ the executor's ports
    # (Network: self.net, node/runtime/consensus_net.py; Timers: self.timers,
    # node/runtime/consensus_timers.py)
    def get_value(self, height: int, round: int) -> ValueReady:
        """Proposer: the block for (height, round), node/runtime/proposer.py."""
        block = self.builder.build()
        self.blocks.remember(block)
        log_event(log, logging.DEBUG, "proposing", height=height, round=round, txs=len(block.txs))
        return ValueReady(height, round, block.id())

    async def decide(self, decision: Decide) -> None:
        self.pending_decision = (decision.height, decision.value_id, decision.commit)
        await self._finish_decision()

    async def evidence(self, evidence: DuplicateVoteEvidence) -> None:
        log_event(log, logging.WARNING, "equivocation", validator=evidence.validator,
                  height=evidence.height)
        raw = evidence.encode()
        if self.evidence_pool.add(raw):
            await self.net.publish_evidence(raw)

    # ------------------------------------------------------------------ commits
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
            self.want_catchup()
            return
        self.pending_decision = None
        self.core.input_log.make_durable(value_id)  # before the seen commit names it
        result = self.chain.commit_block(block, commit)
        self._after_commit(block, result)

    def _after_commit(self, block: Block, result: Any) -> None:
        self.evidence_pool.remove_included(block.evidence)
        self.wal.truncate()
        self.vote_cache.prune(block.height)
        self.committed(block, result)

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
