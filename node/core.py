"""The node's handle on the consensus driver (consensus/driver.py): building it from the
config and the validator key, recovering it from the WAL, and naming effect kinds."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from consensus.driver import Driver
from consensus.messages import (
    Broadcast, Decide, EvidenceFound, GetValue, ProposalReceived, ScheduleTimeout, StartHeight,
    TimeoutElapsed, ValueReady, VoteReceived, WalAppend,
)
from consensus.params import ConsensusParams, TimeoutKind
from consensus.signer import Signer
from consensus.wal import decode_record, encode_record, replay
from node.durable import FileLastSignStore, Wal
from node.logs import get_logger, log_event

if TYPE_CHECKING:
    from node.node import Node

log = get_logger("attrchain.consensus")

_KINDS = {WalAppend: "wal", Broadcast: "broadcast", ScheduleTimeout: "timeout",
          GetValue: "get_value", Decide: "decide", EvidenceFound: "evidence"}


def effect_kind(e: Any) -> str:
    return _KINDS.get(type(e), "unknown")


def encode_wal(record: Any) -> bytes:
    return encode_record(record)


class WalInputLog:
    """The driver's InputLog on the node's WAL file: each input the driver acts on is
    written before it acts (no fsync: a killed process keeps it in the OS), and `sync`
    fsyncs before every signature, so a power cut cannot keep a signature and lose the
    input that caused it (CometBFT: wal.Write before handleMsg, FlushAndSync in signVote)."""

    def __init__(self, wal: Wal):
        self.wal = wal

    def append(self, record: Any) -> None:
        self.wal.append(encode_record(record), sync=False)

    def sync(self) -> None:
        self.wal.sync()


def is_commit_timeout(t: Any) -> bool:
    return t.kind == TimeoutKind.COMMIT


def params_from_config(cfg) -> ConsensusParams:
    c = cfg.consensus
    return ConsensusParams(
        propose_ms=c.timeout_propose_ms, propose_delta_ms=c.timeout_propose_delta_ms,
        prevote_ms=c.timeout_prevote_ms, prevote_delta_ms=c.timeout_prevote_delta_ms,
        precommit_ms=c.timeout_precommit_ms, precommit_delta_ms=c.timeout_precommit_delta_ms,
        commit_ms=c.timeout_commit_ms)


class Core:
    def __init__(self, node: "Node"):
        self.node = node
        signer = None
        key = node.validator_key
        if key is not None:
            signer = Signer(key, node.chain_id, FileLastSignStore(node.home.last_sign_file))
        self.driver = Driver(node.chain_id, params_from_config(node.config), signer,
                             address=None if key is None else key.address,
                             wal=WalInputLog(node.wal))

    @property
    def round(self) -> int:
        s = self.driver.state
        return 0 if s is None or s.round < 0 else s.round

    def recover(self, raw_records: list[bytes]) -> list:
        """Replay the WAL if it holds the height we are at, else start the height fresh."""
        h = self.node.chain.height + 1
        records = []
        for raw in raw_records:
            try:
                records.append(decode_record(raw))
            except ValueError:
                break
        starts = [r for r in records if type(r) is StartHeight]
        if starts and starts[-1].height == h:
            replay(records, self.driver)
            fx = self.driver.restart_effects()
            log_event(log, logging.INFO, "wal_replayed", height=h, records=len(records),
                      round=self.round, resend=sum(1 for e in fx if type(e) is Broadcast))
            return fx
        return self.start_height(h, self.node.chain.validator_set(h))

    def start_height(self, height: int, valset) -> list:
        return self.driver.apply(StartHeight(height, valset))

    def on_vote(self, vote) -> list:
        return self.driver.apply(VoteReceived(vote))

    def on_proposal(self, proposal, valid: bool) -> list:
        return self.driver.apply(ProposalReceived(proposal, valid))

    def on_timeout(self, timeout) -> list:
        return self.driver.apply(TimeoutElapsed(timeout))

    def value_ready(self, height: int, round: int, value_id: bytes) -> list:
        return self.driver.apply(ValueReady(height, round, value_id))
