"""Double-sign protection (CometBFT's FilePV, minus the file).

The signer holds the validator's ed25519 key and the last (height, round, step) it signed,
with what it signed at that height in the last two rounds. It signs only strictly later
positions -- or the very same sign bytes again at a position it signed, returning the same
signature (a node that lost its WAL tail after signing must be able to send that message
again, or it could stay silent for a round) -- and persists the new record through a
`LastSignStore` BEFORE returning the signature, so no message can leave the node that a
restarted node might contradict.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from consensus.crypto import Ed25519Key
from consensus.types import ConsensusError, Proposal, Vote, VoteType

STEP_PROPOSE = 1
STEP_PREVOTE = 2
STEP_PRECOMMIT = 3


class DoubleSignError(ConsensusError):
    """The signer refused: the message conflicts with (or precedes) one already signed."""


# Signatures of the latest height kept for re-signing: those of the last round and the one
# before (a node that lost its WAL tail after signing may be asked for them again).
HISTORY_ROUNDS = 2


@dataclass(frozen=True, slots=True)
class LastSignState:
    """The last (highest) position signed, plus what was signed at the latest height in
    the last HISTORY_ROUNDS rounds: ((round, step, sign_bytes, signature), ...)."""

    height: int
    round: int
    step: int
    sign_bytes: bytes
    signature: bytes
    history: tuple[tuple[int, int, bytes, bytes], ...] = ()

    @property
    def position(self) -> tuple[int, int, int]:
        return (self.height, self.round, self.step)

    def signed_at(self, height: int, round: int, step: int) -> tuple[bytes, bytes] | None:
        if height == self.height:
            for r, st, sb, sig in self.history:
                if (r, st) == (round, step):
                    return sb, sig
        return None

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe dict (ints and hex strings) for the store."""
        return {"height": self.height, "round": self.round, "step": self.step,
                "sign_bytes": self.sign_bytes.hex(), "signature": self.signature.hex(),
                "history": [[r, st, sb.hex(), sig.hex()] for r, st, sb, sig in self.history]}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> "LastSignState":
        try:
            h, r, s = rec["height"], rec["round"], rec["step"]
            if not all(type(x) is int and x >= 0 for x in (h, r, s)):
                raise ValueError("height/round/step must be non-negative integers")
            hist = []
            for item in rec.get("history", []):
                hr, hs, hsb, hsig = item
                if type(hr) is not int or type(hs) is not int:
                    raise ValueError("history positions must be integers")
                hist.append((hr, hs, bytes.fromhex(hsb), bytes.fromhex(hsig)))
            return cls(h, r, s, bytes.fromhex(rec["sign_bytes"]), bytes.fromhex(rec["signature"]),
                       tuple(hist))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"corrupt last-sign record: {e}") from None


class LastSignStore(Protocol):
    """Persistence of the last-sign record. `save` must be durable (fsync) on return."""

    def load(self) -> dict[str, Any] | None: ...

    def save(self, record: dict[str, Any]) -> None: ...


class MemoryLastSignStore:
    """For tests and the simulator; survives a simulated crash because the simulator keeps
    the object (as a disk would keep the file)."""

    def __init__(self) -> None:
        self.record: dict[str, Any] | None = None
        self.saves = 0

    def load(self) -> dict[str, Any] | None:
        return None if self.record is None else dict(self.record)

    def save(self, record: dict[str, Any]) -> None:
        self.record = dict(record)
        self.saves += 1


def vote_step(vote_type: VoteType) -> int:
    return STEP_PREVOTE if vote_type == VoteType.PREVOTE else STEP_PRECOMMIT


class Signer:
    """The validator's PrivValidator: signs votes and proposals, never conflicting ones."""

    def __init__(self, key: Ed25519Key, chain_id: str, store: LastSignStore):
        self.key = key
        self.chain_id = chain_id
        self.store = store
        rec = store.load()
        self.last: LastSignState | None = None if rec is None else LastSignState.from_record(rec)

    @property
    def address(self) -> bytes:
        return self.key.address

    @property
    def pub_key(self) -> bytes:
        return self.key.pub_key

    def sign_vote(self, vote: Vote) -> Vote:
        if vote.validator != self.address:
            raise DoubleSignError("wrong_validator", "vote is not for this signer's address")
        sig = self._sign(vote.height, vote.round, vote_step(vote.type),
                         vote.sign_bytes(self.chain_id))
        return Vote(vote.type, vote.height, vote.round, vote.value_id, vote.validator, sig)

    def sign_proposal(self, proposal: Proposal) -> Proposal:
        if proposal.proposer != self.address:
            raise DoubleSignError("wrong_validator", "proposal is not for this signer's address")
        p = proposal
        sig = self._sign(p.height, p.round, STEP_PROPOSE, p.sign_bytes(self.chain_id))
        return Proposal(p.height, p.round, p.value_id, p.pol_round, p.proposer, sig)

    def previous(self, height: int, round: int, step: int) -> tuple[bytes, bytes] | None:
        """(sign_bytes, signature) of what this signer signed at that position, if kept."""
        return None if self.last is None else self.last.signed_at(height, round, step)

    def _sign(self, height: int, round: int, step: int, sign_bytes: bytes) -> bytes:
        last = self.last
        pos = (height, round, step)
        if last is not None:
            before = last.signed_at(height, round, step)
            if before is not None:
                if before[0] == sign_bytes:
                    return before[1]  # the same message again: the same signature
                raise DoubleSignError("conflict", f"conflicting message at {pos}")
            if pos <= last.position:
                raise DoubleSignError("regression", f"{pos} is not after last signed {last.position}")
        sig = self.key.sign(sign_bytes)
        history = ()
        if last is not None and last.height == height:
            history = tuple(e for e in last.history if e[0] >= round - HISTORY_ROUNDS + 1)
        rec = LastSignState(height, round, step, sign_bytes, sig,
                            history + ((round, step, sign_bytes, sig),))
        self.store.save(rec.to_record())  # durable before the signature exists outside
        self.last = rec
        return sig
