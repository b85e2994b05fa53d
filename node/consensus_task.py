"""The consensus task: CometBFT's receiveRoutine, in trio.

`ConsensusTask.run` is the ONLY task that touches the consensus driver, the chain's writes
and the WAL; it reads one bounded channel of inputs (gossip receivers, timers, catch-up and
vote pulls only send into it). The driver's effects are run by the one executor shared with
the simulator (consensus/executor.py); this class is its ports on trio, the transport and
the block builder: what the simulator's seeds prove is what runs here.

The WAL order, one path: the driver's input log (node/core.py `WalInputLog`) writes each
input before the driver acts on it, fsyncs before every signature, and writes and fsyncs
each own message before its `Broadcast` is returned; the signer persists its last-signed
record before a signature exists outside it.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import trio

from consensus.crypto import Ed25519Key
from consensus.executor import Executor, GossipPacer
from consensus.messages import (
    Decide, ProposalReceived, StartHeight, Timeout, TimeoutElapsed, ValueReady, VoteReceived,
)
from consensus.params import TimeoutKind
from consensus.types import Commit, DuplicateVoteEvidence, Proposal, Vote
from node import core, faults
from node.chain import Chain
from node.block_cache import BlockCache
from node.config import Config
from node.consensus_api import BlockProposal, HelpPeer, PulledVotes, SyncedBlocks, VerifiedVote
from node.durable import Wal
from node.evidence_pool import EvidencePool
from node.logs import get_logger, log_event
from node.metrics import NodeMetrics
from node.proposer import BlockBuilder
from node.sync_serve import VoteCache
from p2p.ids import ChainTopics
from p2p.messages import (
    MAX_PUSHED_PROPOSALS, CompactProposal, ConsensusPush, EvidenceMessage, VoteMessage,
)
from p2p.transport import MessageTooLarge, PeerId, RequestError, Transport
from state.block import Block
from state.errors import BlockError
from state.tx import tx_id

log = get_logger("attrchain.node")

INPUT_BUFFER = 4096
GOSSIP_INTERVAL_MS = 1000  # the executor's re-gossip period (and its help pacing)
PUSH_BUDGET = 192 * 1024  # bytes of one push (a request is at most 256 KiB)
MAX_PUSHED_VOTES = 1000
PUSH_TIMEOUT_S = 2.0


# ---- the consensus task's own inputs (others': node/consensus_api.py) ----
@dataclass(frozen=True)
class StartNextHeight:
    after_height: int


@dataclass(frozen=True)
class DriverTimeout:
    timeout: Any


@dataclass(frozen=True)
class GossipTick:
    """A gossip period passed: the executor re-gossips if it is due."""


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
        self.validator_key = validator_key
        self.transport = transport
        self.topics = topics
        self.builder = builder
        self.evidence_pool = evidence
        self.vote_cache = vote_cache
        self.metrics = metrics
        self.flush_txs = flush_txs
        self.want_catchup = want_catchup
        self.committed = committed
        self.inputs, self.inbox = trio.open_memory_channel[Any](INPUT_BUFFER)
        self.blocks = blocks
        self.core = core.Core(chain, wal, config, validator_key, last_sign_file, self.blocks)
        self.driver = self.core.driver
        self.executor = Executor(self.driver, network=self, timers=self, values=self,
                                 decisions=self, pacer=GossipPacer(GOSSIP_INTERVAL_MS))
        self.current_round = 0
        self._round_started = time.monotonic()
        self.pending_decision: tuple[int, bytes, Commit] | None = None
        self.early_proposals: list[BlockProposal] = []
        self._timers: trio.Nursery | None = None
        self._pushing: set[PeerId] = set()  # peers with a push in flight

    def round_age(self) -> float:
        return time.monotonic() - self._round_started

    # ------------------------------------------------------------------ the task
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """The one task that owns the driver, the chain and the WAL."""
        # the timers are this task's children: they end with it, and nothing else starts them
        async with trio.open_nursery() as timers:
            self._timers = timers
            timers.start_soon(self._tick)
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

    async def _tick(self) -> None:
        while True:
            await trio.sleep(GOSSIP_INTERVAL_MS / 1000)
            try:
                self.inputs.send_nowait(GossipTick())
            except trio.WouldBlock:
                pass  # the task is busy, so not stuck: the next period asks again

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
            case PulledVotes(votes=votes):  # verified by the puller (node/sync.py)
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
    async def broadcast(self, message: Proposal | Vote) -> None:
        try:
            if isinstance(message, Vote):
                await self._publish_vote(message)
                if faults.FAULTS.any:  # test-only (node/faults.py): equivocate on purpose
                    twin = faults.conflicting_vote(message, self.validator_key, self.chain.chain_id)
                    if twin is not None:
                        await self._publish_vote(twin)
            else:
                block = self.blocks.get(message.value_id)
                if block is None:
                    log_event(log, logging.ERROR, "proposal_without_block", height=message.height)
                    return
                cp = self._compact(message, block)
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

    def schedule(self, timeout: Timeout, duration_ms: int) -> None:
        async def fire() -> None:
            await trio.sleep(duration_ms / 1000)
            if timeout.kind == TimeoutKind.COMMIT:
                await self.inputs.send(StartNextHeight(timeout.height))
            else:
                await self.inputs.send(DriverTimeout(timeout))
        assert self._timers is not None
        self._timers.start_soon(fire)

    def get_value(self, height: int, round: int) -> ValueReady:
        """Proposer: the block for (height, round), node/proposer.py."""
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
            try:
                await self.transport.publish(self.topics.evidence, EvidenceMessage(raw).encode())
            except Exception as err:  # noqa: BLE001 -- never let gossip stop consensus
                self._publish_failed(err)

    # ------------------------------------------------------------------ port helpers
    async def _publish_vote(self, vote: Vote) -> None:
        raw = vote.encode()
        self.vote_cache.add(vote.height, vote.round, raw)
        await self.transport.publish(self.topics.votes, VoteMessage(raw).encode())

    @staticmethod
    def _compact(p: Proposal, block: Block) -> CompactProposal:
        return CompactProposal(p.encode(), block.header.encode(),
                               tuple(tx_id(t) for t in block.txs), tuple(block.evidence),
                               None if block.last_commit is None else block.last_commit.encode())

    def _push_message(self, messages: list[Proposal | Vote]) -> ConsensusPush:
        """Messages peers may have seen before go straight to them (`consensus-push`,
        node/sync.py `accept_push`): gossipsub drops a re-publish of what it saw within
        120 s. Proposals go as compact proposals while the push stays under PUSH_BUDGET."""
        s = self.driver.state
        votes = tuple(m.encode() for m in messages if type(m) is Vote)[:MAX_PUSHED_VOTES]
        size = sum(len(v) for v in votes)
        proposals = []
        for m in messages:
            block = self.blocks.get(m.value_id) if type(m) is Proposal else None
            if block is not None and len(proposals) < MAX_PUSHED_PROPOSALS:
                cp = self._compact(m, block).encode()
                if size + len(cp) <= PUSH_BUDGET:
                    proposals.append(cp)
                    size += len(cp)
        return ConsensusPush(self.driver.height, 0 if s is None else max(s.round, 0),
                             tuple(proposals), votes)

    def _push(self, peer: PeerId, push: ConsensusPush) -> None:
        """Send in the background, one push in flight per peer (a slow peer costs a task,
        never the consensus task's time; the next period sends again)."""
        if peer in self._pushing or self._timers is None:
            return
        self._pushing.add(peer)
        self._timers.start_soon(self._push_now, peer, push.encode())

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
