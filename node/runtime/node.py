"""The node's composition root: builds its parts from the home, the config and the genesis,
wires each to exactly what it needs, and runs their tasks in one nursery (`run`).

CometBFT's receiveRoutine, in trio: the consensus task (node/runtime/consensus_task.py) is the
ONLY task that touches the consensus driver, the chain (ledger writes) and the WAL; it
reads one bounded channel of inputs (node/runtime/consensus_api.py) and runs the driver's effects
through the executor it shares with the simulator (consensus/executor.py). Gossip
receivers (node/runtime/receivers.py, node/runtime/proposal_assembly.py, node/runtime/tx_intake.py), timers,
catch-up and vote pull (node/runtime/sync.py), pushed re-gossip (node/runtime/consensus_push.py) and the
RPC only send into it or read. The mempool is shared, but every mempool operation is
synchronous (no await inside), so in trio's single thread no task ever sees it
half-updated.
"""
from __future__ import annotations

import logging
from typing import Any

import trio

from consensus.crypto import Ed25519Key
from node.runtime import core
from node.runtime.admission import Admission
from node.runtime.block_cache import BlockCache, tx_finder
from node.runtime.chain import Chain
from node.runtime.checker import LedgerChecker
from node.config import Config
from node.runtime.consensus_push import PushReceiver
from node.runtime.consensus_task import ConsensusTask
from node.runtime.durable import Wal
from node.runtime.evidence_pool import EvidencePool
from node.home import Home
from node.light.serve import register_light_handlers
from node.logs import get_logger, log_event
from node.runtime.mempool import Mempool
from node.runtime.metrics import NodeMetrics
from node.runtime.proposal_assembly import ProposalAssembly
from node.runtime.proposer import BlockBuilder
from node.runtime.pruning import Pruner
from node.runtime.receivers import run_evidence_receiver, run_peer_watch, run_vote_receiver
from node.rpc import make_app, serve_rpc
from node.rpc.rpc_backend import NodeRpc
from node.runtime.sig_pool import auto_threads
from node.runtime.snapshots import Snapshotter, register_snapshot_handlers
from node.runtime.sync import CatchUp, CatchupWanted
from node.runtime.sync_serve import VoteCache, register_handlers
from node.runtime.tx_intake import TxIntake
from node.rpc.tx_waiters import TxWaiters
from p2p.ids import ChainTopics
from p2p.transport import PeerId, Transport
from state.block import Block
from state.genesis import Genesis

log = get_logger("attrchain.node")


class Node:
    def __init__(self, home: Home, config: Config, genesis: Genesis, transport: Transport,
                 *, validator_key: Ed25519Key | None):
        self.config = config
        self.transport = transport
        self.validator_key = validator_key
        self.topics = ChainTopics(genesis.chain_id)
        self.chain = Chain(home.state_db, genesis, home.data_dir / "seen_commit.bin")
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
        self.wal = Wal(home.wal_file)
        builder = None if validator_key is None else BlockBuilder(
            self.chain, self.mempool, self.evidence, validator_key.address, config.mempool)
        # the consensus task: it alone writes its state; the others read it as a ConsensusView
        self.consensus = ConsensusTask(
            chain=self.chain, wal=self.wal, config=config, last_sign_file=home.last_sign_file,
            validator_key=validator_key, transport=transport, topics=self.topics, builder=builder,
            blocks=self.blocks, evidence=self.evidence, vote_cache=self.vote_cache,
            metrics=self.metrics, flush_txs=self.txs.flush_gossip,
            want_catchup=self.catchup_wanted.set, committed=self._after_commit)
        consensus, submit = self.consensus, self.consensus.inputs.send
        self.admission = Admission(self.chain, consensus, self.catchup_wanted,
                                   core.params_from_config(config).max_round_lead, self.mempool.checker.verify)
        self.proposals = ProposalAssembly(transport, self.topics, self.admission, self.find_tx,
                                          self.metrics, submit)
        self.catchup = CatchUp(transport, self.topics, self.chain, consensus, self.admission,
                               submit, self.peer_heights, self.catchup_wanted)
        self.pushes = PushReceiver(transport, self.chain, consensus, self.admission, submit,
                                   self.catchup_wanted, self.proposals.receive)

    def _after_commit(self, block: Block, result: Any) -> None:
        """The services' part of a commit (the consensus task has done its own)."""
        tx_ids = [r.tx_id for r in result.tx_results]
        self.snapshotter.after_commit()
        self.pruner.after_commit()
        self.txs.committed(tx_ids)  # the recheck runs after, in TxIntake.run_recheck
        self.waiters.committed(tx_ids)
        self.metrics.block_committed(block.height, len(block.txs))
        self.txs.count_mempool()
        log_event(log, logging.INFO, "committed", height=block.height, txs=len(block.txs),
                  app_hash=self.chain.app_hash.hex(), round=self.consensus.current_round)

    # ------------------------------------------------------------------ wiring the tasks
    def rpc(self) -> NodeRpc:
        return NodeRpc(self.chain, self.mempool, self.txs, self.waiters, self.consensus, self.transport,
                       self.peer_heights, self.metrics, self.validator_key, self.config.node.moniker)

    async def run(self, rpc_listen: str | None, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """All tasks of the node in one nursery: the consensus task, gossip receivers, tx
        gossip, peer watch, catch-up, vote pull, pruning, snapshots and (if `rpc_listen`)
        the RPC server. Runs until cancelled; `task_status.started(rpc_binds)` once all are up."""
        cfg, t, topics, m = self.config, self.transport, self.topics, self.metrics
        m.attach_transport(t.counters)
        submit = self.consensus.inputs.send
        async with trio.open_nursery() as nursery:
            register_handlers(t, topics, self.chain, self.consensus, self.find_tx, self.vote_cache)
            self.pushes.register(topics)  # consensus-push: peers' re-gossip
            register_light_handlers(t, topics, self.chain, self.txs.admit)  # submit-tx, light-block, proof
            await nursery.start(self.txs.run_recheck)
            await nursery.start(self.txs.run_gossip, t, topics.txs, self.admission.check_tx,
                                cfg.mempool.gossip_batch_interval_ms / 1000)
            await nursery.start(run_vote_receiver, t, topics.votes, self.admission, m, submit)
            await nursery.start(self.proposals.run)
            await nursery.start(run_evidence_receiver, t, topics.evidence, self.admission, self.evidence, m)
            await nursery.start(run_peer_watch, t, m, self.catchup_wanted, self.peer_heights)
            await nursery.start(self.consensus.run)
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
