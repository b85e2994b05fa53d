"""The node's handle on the consensus driver (consensus/driver.py): building it from the
config and the validator key, recovering it from the WAL. The effects it returns are run
by the executor shared with the simulator (consensus/executor.py), whose ports are the
consensus task's (node/runtime/consensus_task.py)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from consensus.driver import Driver
from consensus.messages import (
    Broadcast, Decide, ProposalReceived, StartHeight, ValueBytes, ValueReady,
)
from consensus.params import ConsensusParams
from consensus.signer import Signer
from consensus.crypto import Ed25519Key
from consensus.types import InvalidCommit
from consensus.wal import MAX_VALUE_BYTES, decode_record, encode_record, replay
from node.runtime.chain import Chain
from node.config import Config
from node.runtime.durable import FileLastSignStore, Wal
from node.logs import get_logger, log_event
from state.block import Block

if TYPE_CHECKING:
    from node.runtime.block_cache import BlockCache

log = get_logger("attrchain.consensus")

class WalInputLog:
    """The driver's InputLog on the node's WAL file, the one path into it: each input the
    driver acts on is written before it acts (no fsync: a killed process keeps it in the
    OS), and `sync` fsyncs before every signature, so a power cut cannot keep a signature
    and lose the input that caused it (CometBFT: wal.Write before handleMsg, FlushAndSync
    in signVote); each message we signed is written and synced before it is broadcast.

    The driver knows values by id only. Before the first input that makes a block one we
    may sign for or decide (our ValueReady, a valid ProposalReceived), its bytes go in
    too (`ValueBytes`), so the sync before that signature covers the block as well: at
    restart a decided height's block, and our own proposal's block, are on our own disk
    (CometBFT logs block parts in its WAL for the same reason)."""

    def __init__(self, wal: Wal, block_of: Callable[[bytes], Block | None] = lambda vid: None):
        self.wal = wal
        self.block_of = block_of
        self.values: dict[bytes, int] = {}  # value id -> its record's sequence number (this height)

    def append(self, record: Any) -> None:
        t = type(record)
        if t is StartHeight:
            self.values = {}
        elif t is ValueReady:
            self.log_value(record.value_id)
        elif t is ProposalReceived and record.valid:
            self.log_value(record.proposal.value_id)
        self.wal.append(encode_record(record), sync=False)

    def sync(self) -> None:
        self.wal.sync()

    def log_value(self, value_id: bytes) -> None:
        if value_id in self.values:
            return
        block = self.block_of(value_id)
        if block is None:
            return
        data = block.encode()
        if len(data) > MAX_VALUE_BYTES:  # cannot be valid (state limits); catch-up has it
            return
        self.wal.append(encode_record(ValueBytes(block.height, value_id, data)), sync=False)
        self.values[value_id] = self.wal.appended

    def make_durable(self, value_id: bytes) -> None:
        """The block `value_id` is in the log, synced (before its seen commit is written;
        a block we prevoted or proposed already is: this costs nothing then)."""
        self.log_value(value_id)
        seq = self.values.get(value_id)
        if seq is not None and not self.wal.is_synced(seq):
            self.wal.sync()

    def restore(self, records: list) -> list[Block]:
        """The blocks logged in `records` (one height's, as read at restart)."""
        blocks = []
        for r in records:
            if type(r) is ValueBytes:
                try:
                    block = Block.decode(r.data)
                except ValueError:
                    continue
                if block.id() == r.value_id:
                    self.values[r.value_id] = 0  # the file was fsynced when opened
                    blocks.append(block)
        return blocks


def params_from_config(cfg) -> ConsensusParams:
    c = cfg.consensus
    return ConsensusParams(
        propose_ms=c.timeout_propose_ms, propose_delta_ms=c.timeout_propose_delta_ms,
        prevote_ms=c.timeout_prevote_ms, prevote_delta_ms=c.timeout_prevote_delta_ms,
        precommit_ms=c.timeout_precommit_ms, precommit_delta_ms=c.timeout_precommit_delta_ms,
        commit_ms=c.timeout_commit_ms)


class Core:
    def __init__(self, chain: Chain, wal: Wal, config: Config, validator_key: Ed25519Key | None,
                 last_sign_file: Path, blocks: "BlockCache"):
        self.chain = chain
        self.blocks = blocks
        signer = None
        if validator_key is not None:
            signer = Signer(validator_key, chain.chain_id, FileLastSignStore(last_sign_file))
        self.input_log = WalInputLog(wal, blocks.get)
        self.driver = Driver(chain.chain_id, params_from_config(config), signer,
                             address=None if validator_key is None else validator_key.address,
                             wal=self.input_log)

    @property
    def round(self) -> int:
        s = self.driver.state
        return 0 if s is None or s.round < 0 else s.round

    def recover(self, raw_records: list[bytes]) -> list:
        """Rebuild the height we are at from the WAL, if it holds that height, else start
        the height fresh. The height's logged blocks go back to the node first; if the
        seen commit already decided the height (killed before its block reached the
        store), the answer is that Decide, and the node finishes it from the WAL's block."""
        h = self.chain.height + 1
        records = []
        for raw in raw_records:
            try:
                records.append(decode_record(raw))
            except ValueError:
                break
        starts = [i for i, r in enumerate(records) if type(r) is StartHeight]
        if starts and records[starts[-1]].height == h:
            for block in self.input_log.restore(records[starts[-1]:]):
                self.blocks.remember(block)
            decided = self._decided_by_seen_commit(h)
            if decided is not None:
                log_event(log, logging.INFO, "finishing_decided_height", height=h,
                          round=decided.round)
                return [decided]
            replay(records, self.driver)
            fx = self.driver.restart_effects()
            log_event(log, logging.INFO, "wal_replayed", height=h, records=len(records),
                      round=self.round, resend=sum(1 for e in fx if type(e) is Broadcast))
            return fx
        return self.driver.apply(StartHeight(h, self.chain.validator_set(h)))

    def _decided_by_seen_commit(self, h: int) -> Decide | None:
        """Decide(h) from the seen commit if it is for h, valid, and its block is here."""
        chain = self.chain
        seen = chain.seen_commit()
        if seen is None or seen.height != h or self.blocks.get(seen.value_id) is None:
            return None
        try:
            chain.validator_set(h).verify_commit(chain.chain_id, seen)
        except InvalidCommit:
            return None
        return Decide(h, seen.round, seen.value_id, seen)

