"""The proposer's getValue: the block this node proposes when consensus asks for one.

Txs reaped from the mempool in fee order, plus the pending evidence the ledger accepts
(tried one by one, so one invalid item cannot make the block invalid). The block is
executed before it is offered (the result is cached for the decision); should our own
block from our own state ever fail, an empty one is proposed instead.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from node.runtime.chain import Chain
from node.config import MempoolSection
from node.runtime.evidence_pool import EvidencePool
from node.logs import get_logger, log_event
from node.runtime.mempool import Mempool
from state.block import Block
from state.errors import BlockError

log = get_logger("attrchain.node")


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class BlockBuilder:
    def __init__(self, chain: Chain, mempool: Mempool, evidence: EvidencePool, proposer: bytes,
                 limits: MempoolSection, clock_ms: Callable[[], int] = wall_clock_ms) -> None:
        self.chain = chain
        self.mempool = mempool
        self.evidence = evidence
        self.proposer = proposer
        self.limits = limits
        self.clock_ms = clock_ms

    def build(self) -> Block:
        """The next height's block on the committed state."""
        reaped = self.mempool.reap(self.limits.block_max_txs, self.limits.block_max_bytes)
        txs = [t.raw for t in reaped]
        now = self.clock_ms()
        block = self.chain.make_block(txs, self.proposer, now, self.evidence.pending())
        if block.evidence and not self._executes(block):
            good = self.evidence.accepted(
                lambda items: self._executes(self.chain.make_block([], self.proposer, now, items)))
            block = self.chain.make_block(txs, self.proposer, now, good)
        try:
            self.chain.execute(block)
        except BlockError as e:
            log_event(log, logging.ERROR, "own_block_invalid", reason=e.reason, error=e.message)
            block = self.chain.make_block([], self.proposer, self.clock_ms())
        return block

    def _executes(self, block: Block) -> bool:
        try:
            self.chain.execute(block)
        except BlockError:
            return False
        return True
