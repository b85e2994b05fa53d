"""The consensus core: pure Tendermint (state machine, vote keeper, driver, signer, WAL
records), no I/O, no clock. What the other packages may use of it is listed here; they
import it from whichever module defines it (tests/test_layering.py checks both)."""
from consensus.crypto import Ed25519Key, address_from_pubkey, verify_signature
from consensus.driver import Driver
from consensus.executor import Executor, GossipPacer
from consensus.messages import (
    Broadcast,
    Decide,
    Effect,
    EvidenceFound,
    GetValue,
    ProposalReceived,
    ScheduleTimeout,
    StartHeight,
    Timeout,
    TimeoutElapsed,
    ValueBytes,
    ValueReady,
    VoteReceived,
)
from consensus.params import ConsensusParams, TimeoutKind
from consensus.round_view import RoundView, ValidatorVotes, round_view
from consensus.signer import Signer
from consensus.types import (
    Commit,
    CommitSig,
    DuplicateVoteEvidence,
    InvalidCommit,
    InvalidEvidence,
    Proposal,
    Validator,
    ValidatorSet,
    Vote,
    VoteType,
)
from consensus.wal import MAX_VALUE_BYTES, decode_record, encode_record, replay

__all__ = [
    # keys and signatures
    "Ed25519Key", "address_from_pubkey", "verify_signature",
    # the driver: its inputs and effects (docs/consensus.md)
    "Driver", "Broadcast", "Decide", "Effect", "EvidenceFound", "GetValue", "ProposalReceived",
    "ScheduleTimeout", "StartHeight", "Timeout", "TimeoutElapsed", "ValueBytes", "ValueReady",
    "VoteReceived", "ConsensusParams", "TimeoutKind", "Signer",
    # the one executor of the driver's effects, and its re-gossip pacing (consensus/executor.py)
    "Executor", "GossipPacer",
    # where a driver stands, as a copy for readers outside the consensus task (/consensus_state)
    "RoundView", "ValidatorVotes", "round_view",
    # the types that cross every boundary (docs/interfaces.md)
    "Commit", "CommitSig", "DuplicateVoteEvidence", "InvalidCommit", "InvalidEvidence", "Proposal",
    "Validator", "ValidatorSet", "Vote", "VoteType",
    # WAL records
    "MAX_VALUE_BYTES", "decode_record", "encode_record", "replay",
]
