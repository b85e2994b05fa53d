"""Txs into the mempool, counted: a client's (RPC `broadcast_tx_*`, the light client's
`submit-tx`), which then goes out by tx gossip, and a peer's (a gossiped batch); and the
mempool's recheck after each commit, in a task of its own.

Every mempool operation is synchronous (no await inside), so in trio's single thread no
task ever sees the mempool half-updated."""
from __future__ import annotations

from typing import Callable

import trio

from node.runtime.mempool import Mempool, PendingTx, TxRejected
from node.runtime.metrics import NodeMetrics
from p2p.transport import Transport
from p2p.tx_gossip import TxGossip, open_tx_gossip
from state.tx import tx_id

RECHECK_SLICE = 256  # senders rechecked between two checkpoints (~256 x 10-20 us)


class TxIntake:
    def __init__(self, mempool: Mempool, metrics: NodeMetrics) -> None:
        self.mempool = mempool
        self.metrics = metrics
        self.gossip: TxGossip | None = None  # while run_gossip runs
        self._recheck_due = trio.Event()

    def admit(self, raw: bytes, known_id: bytes | None = None) -> PendingTx | None:
        """A client's tx: into the mempool (signature verified here, once), then gossip.
        `known_id`: tx_id(raw) if the caller hashed it already. Raises TxRejected."""
        try:
            p = self.mempool.add(raw, known_id=known_id)
        except TxRejected as e:
            self.metrics.rejected_txs.labels(e.code).inc()
            raise
        if self.gossip is not None:
            self.gossip.submit(raw, known_id=p.tx_id)
        self.count_mempool()
        return p

    def admit_gossiped(self, txs: list[bytes], ids: list[bytes] | None = None) -> None:
        """The txs of one gossip batch, vetted (signatures) by the topic's check; one
        ahead of its sender's chain waits for it (node/runtime/mempool.py). `ids`: theirs,
        as the gossip layer hashed them."""
        for i, raw in enumerate(txs):
            try:
                self.mempool.add(raw, wait=True, known_id=None if ids is None else ids[i])
            except TxRejected as e:
                self.metrics.rejected_txs.labels(e.code).inc()
        self.count_mempool()

    def committed(self, tx_ids: list[bytes]) -> None:
        """After a commit (the consensus task): its txs out of the mempool; the recheck of
        the rest is `run_recheck`'s, so it does not delay the next height's timers."""
        self.mempool.committed(tx_ids)
        self._recheck_due.set()

    async def run_recheck(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """The mempool's recheck after each commit, `RECHECK_SLICE` senders at a time: the
        consensus task and the receivers run in between (an admission or a reap rechecks
        first what it reads, node/runtime/mempool.py)."""
        task_status.started()
        while True:
            await self._recheck_due.wait()
            self._recheck_due = trio.Event()
            while self.mempool.rechecks_pending:
                self.mempool.recheck(RECHECK_SLICE)
                await trio.sleep(0)
            self.count_mempool()

    def count_mempool(self) -> None:
        self.metrics.mempool_size.set(len(self.mempool))
        self.metrics.mempool_bytes.set(self.mempool.total_bytes)

    async def flush_gossip(self) -> None:
        """Our txs not yet gossiped go out now (before our proposal, on the same streams:
        peers then hold them when it arrives, no fetch)."""
        if self.gossip is not None:
            await self.gossip.flush()

    async def run_gossip(self, transport: Transport, topic: str, check_tx: Callable[[bytes], bool],
                         flush_interval: float, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """The tx topic: our txs out in batches, peers' batches in (vetted by `check_tx`
        before they are delivered or relayed)."""
        async with open_tx_gossip(transport, topic, tx_id=tx_id, batched=True, check_tx=check_tx,
                                  precheck=self.mempool.checker.precheck,
                                  flush_interval=flush_interval) as g:
            self.gossip = g
            task_status.started()
            try:
                async for batch in g.received:  # one channel hop per received batch (p2p docs)
                    self.admit_gossiped([rx.tx for rx in batch], [rx.tx_id for rx in batch])
            finally:
                self.gossip = None
