"""The node: one trio nursery of services around one consensus task.

The consensus task (node/consensus_task.py) is the ONLY task that touches the consensus
driver, the chain (ledger writes) and the WAL; it reads one bounded channel of inputs.
Gossip receivers, timers, catch-up, vote pulls and RPC only send into it (or read).
The mempool is shared, but every mempool operation is synchronous (no await inside), so
in trio's single thread no task ever sees it half-updated. This module wires them.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import trio

from consensus.crypto import Ed25519Key
from consensus.types import Commit
from node.admission import Admission
from node.block_cache import BlockCache, tx_finder
from node.chain import Chain
from node.checker import LedgerChecker
from node.config import Config
from node.consensus_task import ConsensusTask
from node.durable import Wal
from node.evidence_pool import EvidencePool
from node.home import Home
from node.logs import get_logger, log_event
from node.mempool import Mempool
from node.metrics import NodeMetrics
from node.proposal_assembly import ProposalAssembly
from node.proposer import BlockBuilder
from node.pruning import Pruner
from node.snapshots import Snapshotter
from node.sig_pool import auto_threads
from node.sync import VoteCache
from node.tx_intake import TxIntake
from node.tx_waiters import TxWaiters
from p2p.ids import ChainTopics
from p2p.transport import PeerId, Transport
from state.block import Block
from state.genesis import Genesis

log = get_logger("attrchain.node")


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
        self.blocks = BlockCache()  # the blocks of the height being decided
        self.wal = Wal(home.wal_file)
        self.total_txs = 0
        self.last_commit_time: float | None = None
        self.started_at = time.monotonic()
        self.evidence = EvidencePool()
        self.txs = TxIntake(self.mempool, self.metrics)
        builder = None if validator_key is None else BlockBuilder(
            self.chain, self.mempool, self.evidence, validator_key.address, config.mempool)
        self.consensus = ConsensusTask(
            chain=self.chain, wal=self.wal, config=config, last_sign_file=home.last_sign_file,
            validator_key=validator_key, transport=transport, topics=self.topics, builder=builder,
            blocks=self.blocks, evidence=self.evidence, vote_cache=self.vote_cache,
            metrics=self.metrics, flush_txs=self.txs.flush_gossip,
            want_catchup=lambda: self.catchup_wanted.set(), committed=self._after_commit)
        self.inputs = self.consensus.inputs  # the consensus task's one input channel
        self.run_consensus = self.consensus.run
        self.admission = Admission(self)
        self.find_tx = tx_finder(self.mempool, self.blocks)
        self.proposals = ProposalAssembly(transport, self.topics, self.admission, self.find_tx,
                                          self.metrics, self.inputs.send)

    # what the others may read of the consensus task (node/consensus_api.py ConsensusView)
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

    def is_validator_at(self, height: int) -> bool:
        vs = self.chain.validator_set(height)
        return bool(self.validator_key and vs and vs.get(self.validator_key.address))

    def _after_commit(self, block: Block, result: Any) -> None:
        """The services' part of a commit (the consensus task has done its own)."""
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
        self.txs.count_mempool()
        log_event(log, logging.INFO, "committed", height=block.height, txs=len(block.txs),
                  app_hash=self.chain.app_hash.hex(), round=self.current_round)

    def close(self) -> None:
        self.mempool.checker.signatures.close()
        self.wal.close()
        self.chain.close()
