"""Double-sign protection (CometBFT's FilePV, minus the file).

The signer holds the validator's ed25519 key and the last (height, round, step) it signed.
It signs only strictly later positions -- or the very same sign bytes again, returning the
same signature -- and persists the new record through a `LastSignStore` BEFORE returning
the signature, so no message can leave the node that a restarted node might contradict.
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


@dataclass(frozen=True, slots=True)
class LastSignState:
    height: int
    round: int
    step: int
    sign_bytes: bytes
    signature: bytes

    @property
    def position(self) -> tuple[int, int, int]:
        return (self.height, self.round, self.step)

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe dict (ints and hex strings) for the store."""
        return {"height": self.height, "round": self.round, "step": self.step,
                "sign_bytes": self.sign_bytes.hex(), "signature": self.signature.hex()}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> "LastSignState":
        try:
            h, r, s = rec["height"], rec["round"], rec["step"]
            if not all(type(x) is int and x >= 0 for x in (h, r, s)):
                raise ValueError("height/round/step must be non-negative integers")
            return cls(h, r, s, bytes.fromhex(rec["sign_bytes"]), bytes.fromhex(rec["signature"]))
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

    def _sign(self, height: int, round: int, step: int, sign_bytes: bytes) -> bytes:
        last = self.last
        if last is not None:
            pos = (height, round, step)
            if pos < last.position:
                raise DoubleSignError("regression", f"{pos} is before last signed {last.position}")
            if pos == last.position:
                if sign_bytes == last.sign_bytes:
                    return last.signature  # the same message again: same signature
                raise DoubleSignError("conflict", f"conflicting message at {pos}")
        sig = self.key.sign(sign_bytes)
        rec = LastSignState(height, round, step, sign_bytes, sig)
        self.store.save(rec.to_record())  # durable before the signature exists outside
        self.last = rec
        return sig
